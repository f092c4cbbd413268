//! Timestamps as text (leaf module): the ISO-8601 UTC form LastFM uses,
//! read by the readers (`formats`) and written by the synthetic writers.

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ` (UTC), the LastFM form.
pub fn iso8601_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`iso8601_seconds`], used when writing LastFM-format files.
pub fn format_iso8601(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_values() {
        // date -u -d 2009-05-04T23:08:57Z +%s  ->  1241478537
        assert_eq!(iso8601_seconds("2009-05-04T23:08:57Z"), Some(1_241_478_537));
        assert_eq!(iso8601_seconds("1970-01-01T00:00:00Z"), Some(0));
        // 2000 is a leap year, 1900 is not.
        assert_eq!(iso8601_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(iso8601_seconds("1900-02-29T00:00:00Z"), None);
        assert_eq!(iso8601_seconds("2009-13-01T00:00:00Z"), None);
        assert_eq!(iso8601_seconds("2009-05-04 23:08:57"), None);
    }

    #[test]
    fn format_round_trips() {
        for s in [0, 951_782_400, 1_241_478_537, 1_700_000_000] {
            assert_eq!(iso8601_seconds(&format_iso8601(s)), Some(s));
        }
        assert_eq!(format_iso8601(1_241_478_537), "2009-05-04T23:08:57Z");
    }
}
