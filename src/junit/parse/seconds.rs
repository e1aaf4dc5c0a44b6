//! Seconds from a `time` attribute, as every producer writes them.

/// Seconds from a `time` attribute, including locale-formatted values
/// (Surefire: `2,120.532`, `0,03`). Unreadable or negative: `None`.
pub fn parse_seconds(raw: &str) -> Option<f64> {
    if let Some(v) = plain_decimal(raw) {
        return Some(v);
    }
    let s = raw.trim();
    let value = if !s.contains(',') {
        s.parse::<f64>().ok()
    } else if s.contains('.') {
        s.replace(',', "").parse::<f64>().ok()
    } else {
        s.replace(',', ".").parse::<f64>().ok()
    };
    value.filter(|v| v.is_finite() && *v >= 0.0)
}

/// True only when `raw` is a plain `digits[.digits]` time whose whole
/// seconds alone show it is less than `floor`: a cheap test that spares
/// parsing most times of a report when only the slowest are wanted. False
/// says nothing.
pub fn plainly_below(raw: &str, floor: f64) -> bool {
    let mut bytes = raw.bytes();
    let mut whole = 0u64;
    let mut digits = 0;
    for c in bytes.by_ref() {
        match c {
            b'0'..=b'9' if digits < 15 => {
                whole = whole * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' => break,
            _ => return false,
        }
    }
    // The value is under `whole + 1`, unless an exponent or more follows;
    // read, it rounds to `whole + 1` at most (`2.99999999999999999999` is
    // 3.0), so only a floor above that is plainly above it.
    bytes.all(|c| c.is_ascii_digit()) && whole as f64 + 1.0 < floor
}

/// The common `digits[.digits]` form, exactly as `str::parse` reads it: with
/// at most 15 significant digits both the mantissa and the power of ten are
/// exact doubles, so one correctly rounded division gives the same value.
fn plain_decimal(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut scale, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                scale += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    Some(mantissa as f64 / POW10[scale])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plainly_below_never_says_so_of_a_time_that_is_not() {
        for (raw, floor, below) in [
            ("0.617", 1.5, true),
            ("0.999", 1.0, false),
            ("1.0", 1.0, false),
            ("28.999", 29.5, true),
            ("29.001", 29.5, false),
            ("3", 4.5, true),
            ("3", 4.0, false),
            ("2.99999999999999999999", 3.0, false),
            ("1234567890123456.5", 1e20, false),
            ("1.5e3", 100.0, false),
            ("0,03", 1.0, false),
            ("2,120.532", 100.0, false),
            (" 1", 5.0, false),
            ("99999999999999999999999", 5.0, false),
        ] {
            assert_eq!(plainly_below(raw, floor), below, "{raw} < {floor}");
            if below {
                assert!(parse_seconds(raw).is_none_or(|v| v < floor), "{raw}");
            }
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_seconds("1.5"), Some(1.5));
        assert_eq!(parse_seconds("0,03"), Some(0.03));
        assert_eq!(parse_seconds("2,120.532"), Some(2120.532));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("NaN"), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds(" 3 "), Some(3.0));
        assert_eq!(parse_seconds("."), None);
        assert_eq!(parse_seconds("1."), Some(1.0));
        assert_eq!(parse_seconds(".5"), Some(0.5));
        // The fast path agrees with `str::parse` bit for bit.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut fast = 0;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = format!("{}", x % 10u64.pow((x >> 60) as u32 % 16 + 1));
            let dot = (x >> 40) as usize % (digits.len() + 1);
            let s = format!("{}.{}", &digits[..dot], &digits[dot..]);
            let want = s.parse::<f64>().unwrap();
            if let Some(got) = plain_decimal(&s) {
                assert_eq!(got.to_bits(), want.to_bits(), "{s}");
                fast += 1;
            }
        }
        assert!(fast > 150_000, "{fast}");
    }
}
