//! redb backend for [`super::Store`] (being written).
