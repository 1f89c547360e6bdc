//! Walking an error's chain of causes (`Error::source`): as one line of text, and to find a
//! cause of a given type under wrappers such as `reqwest::Error`.

use std::error::Error;

/// The error and its causes on one line, `outer: inner: innermost` (many errors, reqwest's
/// among them, do not print their cause themselves).
pub fn text(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The first error of type `T` in the chain of `err`, `err` included.
pub fn find<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn text_joins_the_causes_and_find_sees_through_wrappers() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(text(&err), "outer: inner");
        assert!(find::<std::io::Error>(&err).is_some());
        assert!(find::<Outer>(&err).is_some());
        assert!(find::<std::fmt::Error>(&err).is_none());
    }
}
