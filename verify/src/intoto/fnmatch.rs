//! Python's `fnmatch.fnmatchcase`, which in-toto applies to artifact paths.
//!
//! Hand-written because the glob crates differ from Python exactly where it matters for
//! artifact rules: in Python `*` and `?` also match `/`, a backslash is an ordinary
//! character (no escaping), `[!...]` negates, a `[` without a closing `]` is literal, and a
//! range whose bounds are reversed (`[c-a]`) is dropped together with its bounds. A rule
//! that matched differently from in-toto's would let artifacts through that in-toto stops.
//!
//! Matching is linear in the pattern times the path at worst (one backtracking point for
//! the last `*`), so hostile patterns cannot make it hang.

/// One compiled pattern element; every element but `Star` consumes exactly one char.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Star,
    Any,
    Lit(char),
    /// Inclusive ranges (a literal is `(c, c)`); an empty set matches nothing.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Tok {
    fn matches(&self, c: char) -> bool {
        match self {
            Tok::Star | Tok::Any => true,
            Tok::Lit(l) => *l == c,
            Tok::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// A compiled `fnmatch` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    pub fn new(pattern: &str) -> Pattern {
        let p: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < p.len() {
            let c = p[i];
            i += 1;
            match c {
                '*' => {
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                '?' => toks.push(Tok::Any),
                '[' => {
                    // The set ends at the first `]` after an optional `!` and an optional
                    // leading `]` (which is then a member).
                    let mut j = i;
                    if p.get(j) == Some(&'!') {
                        j += 1;
                    }
                    if p.get(j) == Some(&']') {
                        j += 1;
                    }
                    while j < p.len() && p[j] != ']' {
                        j += 1;
                    }
                    if j >= p.len() {
                        toks.push(Tok::Lit('['));
                        continue;
                    }
                    toks.push(set(&p[i..j]));
                    i = j + 1;
                }
                _ => toks.push(Tok::Lit(c)),
            }
        }
        Pattern { toks }
    }

    pub fn matches(&self, name: &str) -> bool {
        // Artifact paths are nearly always ASCII: index the bytes, no allocation.
        if name.is_ascii() {
            let b = name.as_bytes();
            self.run(b.len(), |i| b[i] as char)
        } else {
            let s: Vec<char> = name.chars().collect();
            self.run(s.len(), |i| s[i])
        }
    }

    fn run(&self, len: usize, at: impl Fn(usize) -> char) -> bool {
        let t = &self.toks;
        let (mut ti, mut si) = (0, 0);
        // Where to resume after the last `*`: (token after it, chars it has eaten up to).
        let mut back: Option<(usize, usize)> = None;
        while si < len {
            match t.get(ti) {
                Some(Tok::Star) => {
                    back = Some((ti + 1, si));
                    ti += 1;
                }
                Some(tok) if tok.matches(at(si)) => {
                    ti += 1;
                    si += 1;
                }
                _ => match back {
                    Some((bt, bs)) => {
                        ti = bt;
                        si = bs + 1;
                        back = Some((bt, bs + 1));
                    }
                    None => return false,
                },
            }
        }
        t[ti..].iter().all(|x| *x == Tok::Star)
    }
}

/// A set's contents (between `[` and `]`) as Python reads them: split at the hyphens that
/// join two members (never the first member, and never right after a range's end), drop
/// reversed ranges with both their bounds, and read what is left like a regex class in
/// which only the joining hyphens are special.
fn set(body: &[char]) -> Tok {
    let (negated, body) = match body.split_first() {
        Some(('!', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut chunks: Vec<Vec<char>> = Vec::new();
    let mut start = 0;
    let mut k = 1;
    while let Some(off) = body.get(k..).and_then(|r| r.iter().position(|&c| c == '-')) {
        let h = k + off;
        chunks.push(body[start..h].to_vec());
        start = h + 1;
        k = h + 3;
    }
    let last = body.get(start..).unwrap_or_default().to_vec();
    match chunks.last_mut() {
        Some(prev) if last.is_empty() => prev.push('-'),
        _ => chunks.push(last),
    }
    for k in (1..chunks.len()).rev() {
        let (a, b) = (chunks[k - 1].last().copied(), chunks[k].first().copied());
        if let (Some(a), Some(b)) = (a, b) {
            if a > b {
                let tail = chunks.remove(k);
                chunks[k - 1].pop();
                chunks[k - 1].extend_from_slice(&tail[1..]);
            }
        }
    }
    // None marks a joining hyphen.
    let mut pieces: Vec<Option<char>> = Vec::new();
    for (n, c) in chunks.iter().enumerate() {
        if n > 0 {
            pieces.push(None);
        }
        pieces.extend(c.iter().map(|&x| Some(x)));
    }
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        match (pieces[i], pieces.get(i + 1), pieces.get(i + 2)) {
            (Some(lo), Some(None), Some(Some(hi))) => {
                ranges.push((lo, *hi));
                i += 3;
            }
            (Some(c), _, _) => {
                ranges.push((c, c));
                i += 1;
            }
            (None, _, _) => {
                ranges.push(('-', '-'));
                i += 1;
            }
        }
    }
    if negated && ranges.is_empty() {
        return Tok::Any;
    }
    Tok::Set { negated, ranges }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    /// Expected values from CPython 3.11's `fnmatch.fnmatchcase(name, pattern)`.
    const CASES: &[(&str, &str, bool)] = &[
        ("*", "a/b/c", true),
        ("*", "", true),
        ("repo/*", "repo/x.rpm", true),
        ("repo/*", "repo/sub/x.rpm", true),
        ("repo/*", "repox", false),
        ("?", "a", true),
        ("?", "", false),
        ("?", "/", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("[abc]", "b", true),
        ("[abc]", "d", false),
        ("[!abc]", "d", true),
        ("[!abc]", "a", false),
        ("[a-c]", "b", true),
        ("[a-c]", "-", false),
        ("[-a]", "-", true),
        ("[a-]", "-", true),
        ("[]]", "]", true),
        ("[!]]", "]", false),
        ("[!]]", "x", true),
        ("[", "[", true),
        ("[!", "[!", true),
        ("[!]", "[!]", true),
        ("[c-a]", "b", false),
        ("[c-a]", "c", false),
        ("[!c-a]", "x", true),
        ("[a-c-e]", "-", true),
        ("[a-c-e]", "d", false),
        ("[a-c-e]", "e", true),
        ("a\\b", "a\\b", true),
        ("a\\*", "a\\xyz", true),
        ("*.rpm", "x.rpm", true),
        ("*.rpm", "x.rpm.sig", false),
        ("**", "a/b", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXbYY", false),
        ("*a", "aaaa", true),
        ("[^a]", "^", true),
        ("[^a]", "b", false),
        ("[\\]", "\\", true),
        ("[a-c-]", "-", true),
        ("[z-a-c]", "b", false),
        ("[z-a-c]", "-", true),
        ("é*", "éa", true),
        ("[é-ë]", "ê", true),
        ("a*", "a\nb", true),
        ("[!a]", "\n", true),
        ("[--0]", ".", true),
        ("[--0]", "-", true),
        ("[&&]", "&", true),
        ("[a-]b", "-b", true),
        ("x[", "x[", true),
        ("[[]", "[", true),
    ];

    #[test]
    fn agrees_with_python() {
        for &(pat, name, want) in CASES {
            assert_eq!(Pattern::new(pat).matches(name), want, "{pat:?} vs {name:?}");
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        let pat = "*a".repeat(200) + "b";
        let name = "a".repeat(5000);
        assert!(!Pattern::new(&pat).matches(&name));
    }
}
