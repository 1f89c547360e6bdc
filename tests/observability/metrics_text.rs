//! A reader of the Prometheus text exposition format, enough for the tests: every sample as
//! its name, its labels and its value; comments (`# HELP`, `# TYPE`) skipped.

use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// One scrape: the samples by name.
pub struct Scrape {
    samples: BTreeMap<String, Vec<(Labels, f64)>>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut samples: BTreeMap<String, Vec<(Labels, f64)>> = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, labels, value) = sample(line);
            samples.entry(name).or_default().push((labels, value));
        }
        Scrape { samples }
    }

    /// Every sample of `name`.
    pub fn series(&self, name: &str) -> Vec<(Labels, f64)> {
        self.samples.get(name).cloned().unwrap_or_default()
    }

    /// The value of the sample of `name` with exactly `labels`; fails when there is none.
    pub fn present(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("{name}{labels:?} is not rendered"))
    }

    /// The value of the sample of `name` with exactly `labels`; 0 when there is none (a
    /// counter not incremented yet is not rendered).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<f64> = self
            .series(name)
            .into_iter()
            .filter(|(l, _)| *l == want)
            .map(|(_, v)| v)
            .collect();
        assert!(found.len() <= 1, "{name}{labels:?} rendered twice");
        found.first().copied()
    }
}

/// `name{k="v",...} value` or `name value`.
fn sample(line: &str) -> (String, Labels, f64) {
    let (head, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    let Some((name, rest)) = head.split_once('{') else {
        return (head.to_string(), Labels::new(), value);
    };
    let body = rest
        .strip_suffix('}')
        .unwrap_or_else(|| panic!("unclosed labels: {line}"));
    (name.to_string(), labels(body, line), value)
}

/// `k="v",k2="v2"` with `\"`, `\\` and `\n` escapes in values.
fn labels(mut body: &str, line: &str) -> Labels {
    let mut out = Labels::new();
    while !body.is_empty() {
        let (key, rest) = body
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label: {line}"));
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape: {line}"),
                },
                Some((_, c)) => value.push(c),
                None => panic!("unclosed value: {line}"),
            }
        };
        out.insert(key.to_string(), value);
        body = rest[end + 1..].trim_start_matches(',');
    }
    out
}

#[test]
fn reads_samples_with_and_without_labels() {
    let s = Scrape::parse(
        "# HELP x a\n# TYPE x counter\nx 3\ny{a=\"1\",b=\"q\\\"z\"} 2.5\ny{a=\"2\"} +Inf\n",
    );
    assert_eq!(s.value("x", &[]), 3.0);
    assert_eq!(s.value("y", &[("a", "1"), ("b", "q\"z")]), 2.5);
    assert_eq!(s.value("y", &[("a", "2")]), f64::INFINITY);
    assert_eq!(s.value("y", &[("a", "3")]), 0.0);
    assert_eq!(s.series("y").len(), 2);
}
