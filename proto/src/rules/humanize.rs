//! go-humanize's `Bytes`: SI units, base 1000, as Nomad prints capacities in its errors.

/// `5` → `5 B`, `1000` → `1.0 kB`, `10737418240` → `11 GB`.
pub fn bytes_si(n: i64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let v = n as f64;
    let exp = (v.ln() / 1000f64.ln()).floor().min(6.0);
    let scaled = v / 1000f64.powf(exp);
    let rounded = (scaled * 10.0 + 0.5).floor() / 10.0;
    let unit = UNITS[exp as usize];
    if rounded < 10.0 {
        format!("{rounded:.1} {unit}")
    } else {
        format!("{rounded:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_humanize() {
        assert_eq!(bytes_si(5), "5 B");
        assert_eq!(bytes_si(999), "999 B");
        assert_eq!(bytes_si(1000), "1.0 kB");
        assert_eq!(bytes_si(2000), "2.0 kB");
        assert_eq!(bytes_si(1_500_000), "1.5 MB");
        assert_eq!(bytes_si(10_737_418_240), "11 GB");
    }
}
