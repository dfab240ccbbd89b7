//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`),
//! as `kubectl create <kind>` sends them: decoded by `regatta_api::protobuf`
//! into the JSON shape every other path uses.

use regatta_api::registry::ResourceType;
use serde_json::Value;

use super::status::{ApiError, ApiResult};

pub fn decode(rt: &ResourceType, body: &[u8]) -> ApiResult<Value> {
    regatta_api::protobuf::decode(&rt.api_version(), rt.kind, body).map_err(ApiError::bad_request)
}
