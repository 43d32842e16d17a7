//! Numbers as people read them: `1,230`, `$60,000.00`, and the limits of a rate limit in
//! words (`requests per day`), for the pull-request comment and the terminal.

/// `1230` -> `1,230`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount in cents of `currency` (`USD`): `6000000` -> `$60,000.00`; another currency is
/// written after the number (`60,000.00 EUR`).
pub fn money(cents: u64, currency: &str) -> String {
    let amount = format!("{}.{:02}", thousands(cents / 100), cents % 100);
    if currency.eq_ignore_ascii_case("USD") {
        format!("${amount}")
    } else {
        format!("{amount} {currency}")
    }
}

/// `month` -> `per month`.
pub fn per(interval: &str) -> String {
    format!("per {interval}")
}

/// A rate limit field in words: `max_requests_per_1_day` -> `requests per day`; a field
/// orgops does not know is shown as it is.
pub fn rate_limit_field(field: &str) -> &str {
    match field {
        "max_requests_per_1_minute" => "requests per minute",
        "max_tokens_per_1_minute" => "tokens per minute",
        "max_images_per_1_minute" => "images per minute",
        "max_audio_megabytes_per_1_minute" => "audio megabytes per minute",
        "max_requests_per_1_day" => "requests per day",
        "batch_1_day_max_input_tokens" => "batch input tokens per day",
        other => other,
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1230), "1,230");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(money(6_000_000, "USD"), "$60,000.00");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(150_050, "EUR"), "1,500.50 EUR");
        assert_eq!(
            rate_limit_field("max_requests_per_1_day"),
            "requests per day"
        );
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
