//! Kubernetes resource quantities (`100m`, `1.5`, `512Mi`, `1e3`, `2G`) as exact integers.

use thiserror::Error;

/// A quantity that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid quantity {value:?}: {reason} (write e.g. 500m, 2, 512Mi or 4Gi)")]
pub struct QuantityError {
    /// The text that was given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a quantity into thousandths of its unit, rounding up (so `100m` cpu is 100 and `1Gi`
/// memory is 1073741824000). Values beyond `i64` saturate.
pub fn parse_milli(text: &str) -> Result<i64, QuantityError> {
    let err = |reason| QuantityError {
        value: text.to_string(),
        reason,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    let (negative, s) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(err("no number"));
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // digits as an integer and the power of ten that scales them
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Err(err("too many digits"));
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| err("no number"))?
    };
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut binary: Option<u32> = None;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => binary = Some(10),
        "Mi" => binary = Some(20),
        "Gi" => binary = Some(30),
        "Ti" => binary = Some(40),
        "Pi" => binary = Some(50),
        "Ei" => binary = Some(60),
        s if s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().map_err(|_| err("bad exponent"))?;
            if !(-40..=40).contains(&e) {
                return Err(err("exponent out of range"));
            }
            exp10 += e;
        }
        _ => return Err(err("unknown suffix")),
    }
    // value * 1000 (milli units)
    exp10 += 3;
    let mut value: i128 = mantissa;
    if let Some(shift) = binary {
        value = value.saturating_mul(1i128 << shift);
    }
    if exp10 >= 0 {
        for _ in 0..exp10 {
            value = value.saturating_mul(10);
        }
    } else {
        let divisor = 10i128.checked_pow((-exp10) as u32);
        value = match divisor {
            Some(d) => (value + d - 1) / d,
            None => i128::from(value > 0),
        };
    }
    let value = if negative { -value } else { value };
    Ok(value.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// CPU in millicores (`250m` -> 250, `2` -> 2000).
pub fn parse_cpu_millis(text: &str) -> Result<i64, QuantityError> {
    parse_milli(text)
}

/// Memory (or any byte count) in bytes, rounded up (`512Mi` -> 536870912).
pub fn parse_bytes(text: &str) -> Result<i64, QuantityError> {
    let milli = parse_milli(text)?;
    Ok(milli.div_euclid(1000) + i64::from(milli.rem_euclid(1000) != 0))
}

/// Formats millicores the way kubectl prints them (`1500m`, `2`).
pub fn format_cpu_millis(millis: i64) -> String {
    if millis % 1000 == 0 {
        format!("{}", millis / 1000)
    } else {
        format!("{millis}m")
    }
}

/// Formats bytes with the largest binary suffix that divides them exactly (`8Gi`, `1536Mi`).
pub fn format_bytes(bytes: i64) -> String {
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        let unit = 1i64 << shift;
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        assert_eq!(parse_cpu_millis("100m").unwrap(), 100);
        assert_eq!(parse_cpu_millis("1").unwrap(), 1000);
        assert_eq!(parse_cpu_millis("1.5").unwrap(), 1500);
        assert_eq!(parse_cpu_millis("0.1").unwrap(), 100);
        assert_eq!(parse_cpu_millis("250000u").unwrap(), 250);
        assert_eq!(parse_cpu_millis("1n").unwrap(), 1, "rounds up");
        assert_eq!(parse_bytes("1Gi").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512Mi").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("1e3").unwrap(), 1000);
        assert_eq!(parse_bytes("1.5Ki").unwrap(), 1536);
        assert_eq!(parse_bytes("129M").unwrap(), 129_000_000);
        assert_eq!(
            parse_bytes("100m").unwrap(),
            1,
            "a fraction of a byte rounds up"
        );
        assert_eq!(parse_bytes("0").unwrap(), 0);
        assert_eq!(parse_bytes("+2k").unwrap(), 2000);
    }

    #[test]
    fn rejects_junk_with_the_value_in_the_message() {
        for bad in ["", "abc", "1x", "1.2.3", ".", "1Gb", "--1", "1e", "1e999"] {
            let e = parse_milli(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn formats_like_kubectl() {
        assert_eq!(format_cpu_millis(1500), "1500m");
        assert_eq!(format_cpu_millis(2000), "2");
        assert_eq!(format_bytes(8 << 30), "8Gi");
        assert_eq!(format_bytes(1536 << 20), "1536Mi");
        assert_eq!(format_bytes(1000), "1000");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_milli(&s);
            let _ = parse_bytes(&s);
        }

        #[test]
        fn binary_memory_round_trips(n in 0i64..1_000_000, shift in prop::sample::select(vec![10u32, 20, 30])) {
            let suffix = match shift { 10 => "Ki", 20 => "Mi", _ => "Gi" };
            prop_assert_eq!(parse_bytes(&format!("{n}{suffix}")).unwrap(), n << shift);
        }
    }
}
