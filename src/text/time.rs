//! Dates for people and for logs, without a date library (the few formats orgops prints).

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (UTC), without a date library.
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        (secs % 3_600) / 60,
        secs % 60
    )
}

/// Unix seconds for `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`; `None` for
/// anything else (the inverse of [`format_utc`], for the dates a file declares).
pub fn parse_utc(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z')?)),
        None => (text, None),
    };
    let number = |s: &str, len: usize| -> Option<i64> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let (year, month, day) = (
        number(parts.next()?, 4)?,
        number(parts.next()?, 2)?,
        number(parts.next()?, 2)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[usize::try_from(month - 1).ok()?] {
        return None;
    }
    let seconds = match time {
        None => 0,
        Some(time) => {
            let mut parts = time.split(':');
            let (h, m, s) = (
                number(parts.next()?, 2)?,
                number(parts.next()?, 2)?,
                number(parts.next()?, 2)?,
            );
            if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
                return None;
            }
            h * 3_600 + m * 60 + s
        }
    };
    Some(days_from_civil(year, month, day) * 86_400 + seconds)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days-from-civil).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar month `YYYY-MM` (UTC) as `[start, end)` in unix seconds; `None` when `month`
/// is not of that form.
pub fn month_range(month: &str) -> Option<(i64, i64)> {
    let (year, month) = month.split_once('-')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(year, 4) || !digits(month, 2) {
        return None;
    }
    let (year, month): (i64, i64) = (year.parse().ok()?, month.parse().ok()?);
    if !(1..=12).contains(&month) {
        return None;
    }
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    Some((
        days_from_civil(year, month, 1) * 86_400,
        days_from_civil(next_year, next_month, 1) * 86_400,
    ))
}

/// The month (`YYYY-MM`, UTC) `unix` falls in.
pub fn month_of(unix: i64) -> String {
    format_utc(unix)[..7].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_parsing_inverts_formatting() {
        for t in [0, 1_700_000_000, 951_782_400, 1_830_297_599] {
            assert_eq!(parse_utc(&format_utc(t)), Some(t));
        }
        assert_eq!(parse_utc("2027-06-30"), parse_utc("2027-06-30T00:00:00Z"));
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "27-06-30",
            "2027-06-30T24:00:00Z",
            "2027-06-30T10:00:00",
            "soon",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn months() {
        assert_eq!(month_of(951_782_400), "2000-02");
        let (start, end) = month_range("2000-02").expect("a month");
        assert_eq!(format_utc(start), "2000-02-01T00:00:00Z");
        assert_eq!(format_utc(end), "2000-03-01T00:00:00Z");
        let (_, end) = month_range("1999-12").expect("a month");
        assert_eq!(format_utc(end), "2000-01-01T00:00:00Z");
        for bad in ["2000-13", "2000-2", "20-02", "2000/02", "2000-02-01"] {
            assert_eq!(month_range(bad), None, "{bad}");
        }
    }
}
