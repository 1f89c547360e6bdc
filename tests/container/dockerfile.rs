//! Just enough of a Dockerfile parser to read docker/Dockerfile: comment lines dropped,
//! `\` continuations joined, stages split at FROM, and the final stage's settings read the
//! way Docker reads them (exec form as JSON arrays, `ENV K=V ...`).

use std::collections::BTreeMap;

/// One instruction: its keyword in capitals and the rest of its (joined) line.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// The instructions from one FROM to the next, FROM included.
#[derive(Debug, Clone)]
pub struct Stage {
    pub instructions: Vec<Instruction>,
}

/// Splits a Dockerfile into stages.
pub fn parse(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical_lines(text) {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
        };
        if instruction.keyword == "FROM" {
            stages.push(Stage {
                instructions: Vec::new(),
            });
        }
        let stage = stages.last_mut().expect("a Dockerfile starts with FROM");
        stage.instructions.push(instruction);
    }
    stages
}

/// The instructions, each on one line: Docker drops comment lines (also inside a continued
/// instruction) and joins a line ending in `\` with the next.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current).trim().to_string());
            }
        }
    }
    assert!(
        current.is_empty(),
        "the Dockerfile ends inside a continuation"
    );
    lines
}

impl Stage {
    /// The arguments of every instruction `keyword`, in order.
    pub fn all(&self, keyword: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == keyword)
            .map(|i| i.args.as_str())
            .collect()
    }

    /// The arguments of the last instruction `keyword` (the one in force).
    pub fn last(&self, keyword: &str) -> Option<&str> {
        self.all(keyword).last().copied()
    }

    /// Every ENV of the stage, later ones overriding earlier ones.
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for args in self.all("ENV") {
            env.extend(parse_env(args));
        }
        env
    }

    /// The command of an instruction given in exec form (a JSON array of strings); `None`
    /// for the shell form, which would put `/bin/sh -c` between Docker and faena.
    pub fn exec_form(&self, keyword: &str) -> Option<Vec<String>> {
        exec_form(self.last(keyword)?)
    }

    /// HEALTHCHECK's command: the exec form after its options and `CMD`.
    pub fn healthcheck(&self) -> Option<Vec<String>> {
        let args = self.last("HEALTHCHECK")?;
        let mut words = args.split_whitespace().skip_while(|w| w.starts_with("--"));
        if !words.next()?.eq_ignore_ascii_case("CMD") {
            return None;
        }
        let command = args[args.find('[')?..].trim();
        exec_form(command)
    }

    /// The paths of the VOLUME instructions (JSON array or space-separated).
    pub fn volumes(&self) -> Vec<String> {
        self.all("VOLUME")
            .into_iter()
            .flat_map(|args| {
                exec_form(args)
                    .unwrap_or_else(|| args.split_whitespace().map(String::from).collect())
            })
            .collect()
    }
}

/// `["a", "b"]` as a list of strings, or `None` if it is not a JSON array of strings.
fn exec_form(args: &str) -> Option<Vec<String>> {
    serde_json::from_str(args.trim()).ok()
}

/// `K=V K2="V 2"` (or the old `K V`) as pairs.
fn parse_env(args: &str) -> Vec<(String, String)> {
    if !args.split_whitespace().next().unwrap_or("").contains('=') {
        let (key, value) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        return vec![(key.to_string(), value.trim().to_string())];
    }
    let mut pairs = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("ENV K=V");
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').expect("a closing quote");
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        pairs.push((key.to_string(), value.to_string()));
        rest = after.trim_start();
    }
    pairs
}

#[test]
fn the_parser_reads_what_docker_reads() {
    let text = "# syntax comment\nFROM a AS build\nRUN one \\\n    # inside\n    && two\n\
                FROM b\nENV A=1 B=\"x y\" \\\n    C=3\nENV D 4 5\nVOLUME [\"/v\"]\nVOLUME /w\n\
                HEALTHCHECK --interval=1s CMD [\"/bin/x\", \"y\"]\nCMD [\"z\"]\n";
    let stages = parse(text);
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].all("RUN"), ["one && two"]);
    let env = stages[1].env();
    let want = [("A", "1"), ("B", "x y"), ("C", "3"), ("D", "4 5")];
    assert_eq!(
        env,
        want.map(|(k, v)| (k.to_string(), v.to_string())).into()
    );
    assert_eq!(stages[1].volumes(), ["/v", "/w"]);
    assert_eq!(stages[1].healthcheck().unwrap(), ["/bin/x", "y"]);
    assert_eq!(stages[1].exec_form("CMD").unwrap(), ["z"]);
    assert_eq!(stages[1].exec_form("ENTRYPOINT"), None);
}
