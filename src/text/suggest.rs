//! Suggestions for what a user probably meant.

/// `did you mean `x`?` for the candidate closest to `given`, when it is a likely typo: at
/// most two edits away, and at most a third of the word (case differences are free).
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let given_lower = given.to_lowercase();
    let allowed = (given_lower.chars().count() / 3).clamp(1, 2);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != given)
        .map(|candidate| {
            (
                strsim::damerau_levenshtein(&given_lower, &candidate.to_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= allowed)
        .min()
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}
