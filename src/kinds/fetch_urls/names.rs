//! Names of saved pages: derived from the URL's index, host and path, reduced to a safe
//! alphabet. Never raw input, never a path separator, never a leading dot, bounded length;
//! the index prefix makes them unique within a job.

use reqwest::Url;

/// Longest name, in bytes (all ASCII).
pub const MAX_NAME_LEN: usize = 120;

/// `00042-example.com-wiki-Python` for the URL at index 42.
pub fn file_name(index: usize, url: &Url) -> String {
    let host = url.host_str().unwrap_or("host");
    let path = url.path().trim_matches('/');
    let mut name = format!("{index:05}-");
    let mut last = '-';
    for c in host
        .chars()
        .chain((!path.is_empty()).then_some('-'))
        .chain(path.chars())
    {
        let c = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c,
            '.' if last != '.' && last != '-' => '.',
            _ => '-',
        };
        if c == '-' && last == '-' {
            continue;
        }
        if name.len() == MAX_NAME_LEN {
            break;
        }
        name.push(c);
        last = c;
    }
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    name
}
