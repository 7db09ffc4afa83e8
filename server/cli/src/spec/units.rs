//! Sizes such as "10GiB" or "1.5 TB", read as Nomad reads `capacity_min` and `capacity_max`: with
//! go-humanize's `ParseBytes` (decimal and binary units, any case, a fraction allowed), but
//! refusing what does not fit the i64 the API carries, where Nomad's cast would wrap.

/// The number of bytes `text` names. An empty text is 0, as in Nomad.
pub(super) fn parse_bytes(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Ok(0);
    }
    if text.trim_start().starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    // As go-humanize: the number runs while there are digits, points and thousands commas.
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .replace(',', "")
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale = scale(&unit).ok_or_else(|| {
        format!(
            "{text:?} has an unknown unit {unit:?}: use B, kB, MB, GB, TB, PB, EB \
             (powers of 1000) or KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024)"
        )
    })?;
    let bytes = number * scale;
    // i64::MAX is not exactly an f64; 2^63 is the first value that does not fit.
    if bytes >= 9_223_372_036_854_775_808.0 {
        return Err(format!(
            "{text:?} is too large: at most 8EiB (2^63-1 bytes)"
        ));
    }
    // Truncates a fraction of a byte, as Go's conversion does.
    Ok(bytes as i64)
}

/// go-humanize's table: bytes, or a prefix with or without its final "b".
fn scale(unit: &str) -> Option<f64> {
    if unit.is_empty() || unit == "b" {
        return Some(1.0);
    }
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let (base, prefix) = match unit.strip_suffix('i') {
        Some(prefix) => (1024.0_f64, prefix),
        None => (1000.0, unit),
    };
    let power = match prefix {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    Some(base.powi(power))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_bytes() {
        assert_eq!(parse_bytes(""), Ok(0));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("1234"), Ok(1234));
        assert_eq!(parse_bytes("1,234"), Ok(1234));
        assert_eq!(parse_bytes("42b"), Ok(42));
        assert_eq!(parse_bytes("42 B"), Ok(42));
    }

    #[test]
    fn decimal_units_are_powers_of_1000() {
        let table = [
            ("k", 1_000),
            ("kB", 1_000),
            ("M", 1_000_000),
            ("MB", 1_000_000),
            ("G", 1_000_000_000),
            ("GB", 1_000_000_000),
            ("T", 1_000_000_000_000),
            ("TB", 1_000_000_000_000),
            ("P", 1_000_000_000_000_000),
            ("PB", 1_000_000_000_000_000),
            ("E", 1_000_000_000_000_000_000),
            ("EB", 1_000_000_000_000_000_000),
        ];
        for (unit, bytes) in table {
            assert_eq!(parse_bytes(&format!("1{unit}")), Ok(bytes), "{unit}");
        }
    }

    #[test]
    fn binary_units_are_powers_of_1024() {
        let table = [
            ("Ki", 10),
            ("Mi", 20),
            ("Gi", 30),
            ("Ti", 40),
            ("Pi", 50),
            ("Ei", 60),
        ];
        for (prefix, shift) in table {
            assert_eq!(
                parse_bytes(&format!("1{prefix}B")),
                Ok(1 << shift),
                "{prefix}B"
            );
            assert_eq!(
                parse_bytes(&format!("1{prefix}")),
                Ok(1 << shift),
                "{prefix}"
            );
        }
    }

    #[test]
    fn case_space_and_fractions() {
        assert_eq!(parse_bytes("10GiB"), Ok(10 << 30));
        assert_eq!(parse_bytes("10 gib"), Ok(10 << 30));
        assert_eq!(parse_bytes("10GIB"), Ok(10 << 30));
        assert_eq!(parse_bytes("20G"), Ok(20_000_000_000));
        assert_eq!(parse_bytes("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_bytes("1.5 kB"), Ok(1_500));
        assert_eq!(parse_bytes("0.5"), Ok(0));
        assert_eq!(parse_bytes(".5KiB"), Ok(512));
        assert_eq!(parse_bytes("7EiB"), Ok(7 << 60));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        for bad in [
            "GiB", "ten", " 10GiB", "1.2.3", "10 gigs", "10i", "10ib", "10bb", "10 KiBs", "1e3",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
        let err = parse_bytes("10 gigs").expect_err("unknown unit");
        assert!(err.contains("unknown unit \"gigs\""), "{err}");
    }

    #[test]
    fn refuses_negative_and_overflowing_sizes() {
        assert_eq!(
            parse_bytes("-1GiB"),
            Err("\"-1GiB\" is negative".to_string())
        );
        for big in ["8EiB", "9.3EB", "99999999999999999999", "16EiB"] {
            let err = parse_bytes(big).expect_err(big);
            assert!(err.contains("too large"), "{big}: {err}");
        }
        assert_eq!(
            parse_bytes("9223372036854775807"),
            Err("\"9223372036854775807\" is too large: at most 8EiB (2^63-1 bytes)".to_string())
        );
        assert_eq!(
            parse_bytes("9223372036854774784"),
            Ok(9_223_372_036_854_774_784)
        );
    }
}
