//! Resource quantities (`100m`, `128Mi`, `1e3`): parsing, comparison and the
//! canonical form Kubernetes writes them back in.
//!
//! Owns the one representation every other module compares quantities in: an
//! exact signed count of nano-units (10^-9) in an `i128`. That is the finest
//! precision kube's `resource.Quantity` keeps (anything finer is rounded up,
//! `0.1n` becomes `1n`), so nothing that kube-apiserver accepts loses
//! precision here, only magnitudes beyond ~10^29 are refused.
//!
//! Invariant: the string form (`Display`) is what kube-apiserver would store
//! for the same input, e.g. `0.5` → `500m`, `1000m` → `1`, `1024Mi` → `1Gi`,
//! `1.5Gi` → `1536Mi`. Like kube, an input that is already canonical is kept
//! verbatim (so `+1` stays `+1`).

use std::cmp::Ordering;
use std::fmt;

/// The expression kube quotes in its parse error; quantities that do not match it are rejected.
pub const QUANTITY_REGEX: &str = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// The suffix family a quantity was written in; the canonical form keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `m`, `k`, `M`, … (powers of 1000), or no suffix.
    DecimalSI,
    /// `Ki`, `Mi`, `Gi`, … (powers of 1024).
    BinarySI,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// Why a string is not a quantity, worded as kube-apiserver words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '{QUANTITY_REGEX}'")]
    Format,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// A parsed quantity. Equality and ordering compare values, not spellings
/// (`1Gi == 1024Mi`).
#[derive(Debug, Clone)]
pub struct Quantity {
    nanos: i128,
    format: Format,
    /// The input, kept when it already is in canonical form (kube does the same).
    original: Option<String>,
}

impl Quantity {
    /// A quantity of `nanos` × 10^-9 in the given format.
    pub fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity {
            nanos,
            format,
            original: None,
        }
    }

    /// A decimal quantity of `milli` thousandths (`from_milli(500)` is `500m`).
    pub fn from_milli(milli: i128) -> Quantity {
        Quantity::from_nanos(milli.saturating_mul(1_000_000), Format::DecimalSI)
    }

    /// A whole quantity (`from_int(2, Format::BinarySI)` is `2`, `from_int(2048, BinarySI)` is `2Ki`).
    pub fn from_int(value: i128, format: Format) -> Quantity {
        Quantity::from_nanos(value.saturating_mul(NANOS_PER_UNIT), format)
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The value in milli-units, rounded up (away from zero) like kube's `MilliValue`.
    pub fn milli_value(&self) -> i128 {
        div_round_up(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded up (away from zero) like kube's `Value`.
    pub fn value(&self) -> i128 {
        div_round_up(self.nanos, NANOS_PER_UNIT)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.nanos.signum() as i32
    }

    /// Whether the value is a whole number of units.
    pub fn is_integer(&self) -> bool {
        self.nanos % NANOS_PER_UNIT == 0
    }

    /// The canonical string, ignoring the spelling the quantity was parsed from.
    pub fn canonical(&self) -> String {
        canonical_string(self.nanos, self.format)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.original {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.canonical()),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_quantity(s)
    }
}

fn div_round_up(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

/// The pieces of `[sign] number [. fraction] [suffix]`.
struct Parts<'a> {
    positive: bool,
    /// Integer digits without leading zeros; "0" when there are none.
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Splits the string the way kube's scanner does (not by the regex it quotes,
/// whose edge cases differ slightly).
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts {
            positive,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = if pos == start { "0" } else { &s[start..pos] };
    if pos >= end {
        return Ok(Parts {
            positive,
            num,
            denom: "",
            suffix: "",
        });
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[start..pos];
        if pos >= end {
            return Ok(Parts {
                positive,
                num,
                denom,
                suffix: "",
            });
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::Format);
    }
    Ok(Parts {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// Base (2 or 10), exponent and format of a suffix.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) => {
            let exp: i64 = suffix[1..].parse().ok()?;
            Some((10, i32::try_from(exp).ok()?, Format::DecimalExponent))
        }
        _ => None,
    }
}

fn pow10(k: u32) -> Option<u128> {
    10u128.checked_pow(k)
}

/// Parses a quantity string such as `100m`, `1.5`, `128Mi`, `1e3` or `2Gi`.
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Format);
    }
    if s == "0" {
        return Ok(Quantity {
            nanos: 0,
            format: Format::DecimalSI,
            original: Some("0".into()),
        });
    }
    let parts = split(s)?;
    let (base, exp, format) = interpret(parts.suffix).ok_or(QuantityError::Suffix)?;

    let digits = format!("{}{}", parts.num, parts.denom);
    let trimmed = digits.trim_start_matches('0');
    let mantissa: u128 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().map_err(|_| QuantityError::Numeric)?
    };
    let denom_len = parts.denom.len() as i64;
    let (mut magnitude, ten_exp) = if base == 2 {
        let factor = 1u128 << exp;
        (
            mantissa.checked_mul(factor).ok_or(QuantityError::Numeric)?,
            9 - denom_len,
        )
    } else {
        (mantissa, i64::from(exp) + 9 - denom_len)
    };
    if ten_exp >= 0 {
        if magnitude != 0 {
            let scale = u32::try_from(ten_exp)
                .ok()
                .and_then(pow10)
                .ok_or(QuantityError::Numeric)?;
            magnitude = magnitude.checked_mul(scale).ok_or(QuantityError::Numeric)?;
        }
    } else {
        // Finer than a nano-unit: round up, as kube does.
        match u32::try_from(-ten_exp).ok().and_then(pow10) {
            Some(div) => {
                let rem = magnitude % div;
                magnitude /= div;
                if rem != 0 {
                    magnitude += 1;
                }
            }
            None => magnitude = u128::from(magnitude != 0),
        }
    }
    if format == Format::BinarySI {
        // kube caps binary quantities at 2^63-1 units.
        let max = (i64::MAX as u128) * NANOS_PER_UNIT as u128;
        magnitude = magnitude.min(max);
    }
    let magnitude = i128::try_from(magnitude).map_err(|_| QuantityError::Numeric)?;
    let nanos = if parts.positive {
        magnitude
    } else {
        -magnitude
    };

    let original = keeps_spelling(&parts, base, exp, format).then(|| s.to_string());
    Ok(Quantity {
        nanos,
        format,
        original,
    })
}

/// Whether kube would keep the input string as the serialized form: it does
/// so on its fast path when the input has no redundant zeros and its exponent
/// is one a suffix can name.
fn keeps_spelling(parts: &Parts<'_>, base: u32, exp: i32, format: Format) -> bool {
    let num_len = parts.num.len() as i32;
    let denom_len = parts.denom.len() as i32;
    let (precision, scale, multiplier): (i32, i32, i64) = match format {
        Format::DecimalSI | Format::DecimalExponent => (18 - (num_len + denom_len), exp, 1),
        Format::BinarySI => {
            if exp >= 0 && denom_len == 0 {
                let p = 15 - num_len - ((exp as f32) * 3.0 / 10.0) as i32 - 1;
                (p, 0, 1i64 << exp)
            } else {
                (-1, 0, 1)
            }
        }
    };
    if precision < 0 {
        return false;
    }
    let scale = scale - denom_len;
    if scale < -9 {
        return false;
    }
    let shifted = format!("{}{}", parts.num, parts.denom);
    let Ok(value) = shifted.parse::<i64>() else {
        return false;
    };
    if value.checked_mul(multiplier).is_none() {
        return false;
    }
    if base == 2 {
        exp % 10 == 0 && (value & 0x07) != 0
    } else {
        scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
    }
}

fn canonical_string(nanos: i128, format: Format) -> String {
    if nanos == 0 {
        return "0".into();
    }
    let mut format = format;
    if format == Format::BinarySI {
        let limit = 1024 * NANOS_PER_UNIT;
        if (nanos > -limit && nanos < limit) || nanos % NANOS_PER_UNIT != 0 {
            format = Format::DecimalSI;
        }
    }
    if format == Format::BinarySI {
        let mut value = nanos / NANOS_PER_UNIT;
        let mut times = 0;
        while times < 6 && value.abs() >= 1024 && value % 1024 == 0 {
            value /= 1024;
            times += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times];
        return format!("{value}{suffix}");
    }
    let mut mantissa = nanos;
    let mut exp: i32 = -9;
    while mantissa.abs() >= 10 && mantissa % 10 == 0 {
        mantissa /= 10;
        exp += 1;
    }
    while exp % 3 != 0 {
        mantissa *= 10;
        exp -= 1;
    }
    let suffix = match (format, exp) {
        (Format::DecimalExponent, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, -9) => "n".into(),
        (_, -6) => "u".into(),
        (_, -3) => "m".into(),
        (_, 0) => String::new(),
        (_, 3) => "k".into(),
        (_, 6) => "M".into(),
        (_, 9) => "G".into(),
        (_, 12) => "T".into(),
        (_, 15) => "P".into(),
        (_, 18) => "E".into(),
        (_, e) => format!("e{e}"),
    };
    format!("{mantissa}{suffix}")
}

/// Parses a quantity as it appears in JSON: a string (surrounding spaces
/// ignored, as kube does) or a bare number (`cpu: 1` in YAML).
pub fn parse_json_quantity(v: &serde_json::Value) -> Result<Quantity, QuantityError> {
    match v {
        serde_json::Value::String(s) => parse_quantity(s.trim()),
        serde_json::Value::Number(n) => parse_quantity(&n.to_string()),
        _ => Err(QuantityError::Format),
    }
}

/// The form kube-apiserver stores a JSON quantity in, or `None` when it does not parse.
pub fn canonicalize_json(v: &serde_json::Value) -> Option<serde_json::Value> {
    parse_json_quantity(v)
        .ok()
        .map(|q| serde_json::Value::String(q.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("0", "0"),
            ("0m", "0"),
            ("-0", "0"),
            ("00", "0"),
            ("100m", "100m"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("1.5", "1500m"),
            ("5.1", "5100m"),
            ("1000m", "1"),
            ("1.0", "1"),
            ("1000", "1k"),
            ("100", "100"),
            ("1", "1"),
            ("+1", "+1"),
            ("-1", "-1"),
            ("0.1m", "100u"),
            ("0.0000000001", "1n"),
            ("1Ki", "1Ki"),
            ("8Ki", "8Ki"),
            ("1024Ki", "1Mi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("0.5Ki", "512"),
            ("2Gi", "2Gi"),
            ("128Mi", "128Mi"),
            ("123Mi", "123Mi"),
            ("129M", "129M"),
            ("129e6", "129e6"),
            ("1e3", "1e3"),
            ("1E3", "1E3"),
            ("1.5e3", "1500"),
            ("1e-3", "1e-3"),
            ("1E", "1E"),
            ("2k", "2k"),
            ("128974848", "128974848"),
            ("12Ti", "12Ti"),
            ("1500m", "1500m"),
            ("1.", "1."),
        ];
        for (input, want) in cases {
            let q = parse_quantity(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.to_string(), want, "canonical form of {input:?}");
        }
    }

    #[test]
    fn values() {
        let q = parse_quantity("1.5").unwrap();
        assert_eq!(q.milli_value(), 1500);
        assert_eq!(q.value(), 2);
        assert_eq!(parse_quantity("100m").unwrap().milli_value(), 100);
        assert_eq!(parse_quantity("0.1m").unwrap().milli_value(), 1);
        assert_eq!(parse_quantity("1Gi").unwrap().value(), 1 << 30);
        assert_eq!(
            parse_quantity("1Gi").unwrap(),
            parse_quantity("1024Mi").unwrap()
        );
        assert!(parse_quantity("500m").unwrap() < parse_quantity("1").unwrap());
        assert!(parse_quantity("-1").unwrap().signum() < 0);
        assert!(parse_quantity("2").unwrap().is_integer());
        assert!(!parse_quantity("2.5").unwrap().is_integer());
        assert_eq!(Quantity::from_milli(500).to_string(), "500m");
        assert_eq!(
            Quantity::from_int(2048, Format::BinarySI).to_string(),
            "2Ki"
        );
    }

    #[test]
    fn invalid_quantities() {
        let fmt = QuantityError::Format;
        let cases = [
            ("", fmt.clone()),
            ("abc", fmt.clone()),
            ("1.2.3", fmt.clone()),
            ("1 ", fmt.clone()),
            (" 1", fmt.clone()),
            ("1Mii", QuantityError::Suffix),
            ("1e", QuantityError::Suffix),
            ("1k3", QuantityError::Suffix),
            ("1x", fmt.clone()),
            ("1e1000000000000", QuantityError::Suffix),
            ("1e40", QuantityError::Numeric),
        ];
        for (input, want) in cases {
            assert_eq!(parse_quantity(input).unwrap_err(), want, "{input:?}");
        }
        assert_eq!(
            QuantityError::Format.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn json_quantities() {
        use serde_json::json;
        assert_eq!(canonicalize_json(&json!(1)), Some(json!("1")));
        assert_eq!(canonicalize_json(&json!(0.5)), Some(json!("500m")));
        assert_eq!(canonicalize_json(&json!(" 2Gi ")), Some(json!("2Gi")));
        assert_eq!(canonicalize_json(&json!(true)), None);
        assert_eq!(canonicalize_json(&json!("nope")), None);
    }
}
