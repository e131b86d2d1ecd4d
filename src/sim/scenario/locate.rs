//! Finding the line of a field in block-style YAML, for errors that serde cannot place (a rule
//! between two fields, a NodeGroup's validation).

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence item (0-based).
    Index(usize),
}

/// `workloads[1].until`. Pure.
pub fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A content line: its number (0-based), the column where its content starts (after any
/// `- ` markers) and whether it opens a sequence item (and at which column its dash is).
#[derive(Debug, Clone)]
struct Line<'a> {
    no: usize,
    col: usize,
    dashes: Vec<usize>,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (no, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        let mut col = raw.len() - trimmed.len();
        let mut rest = trimmed;
        let mut dashes = Vec::new();
        while let Some(r) = rest
            .strip_prefix("- ")
            .or(if rest == "-" { Some("") } else { None })
        {
            dashes.push(col);
            let r2 = r.trim_start();
            col += 2 + (r.len() - r2.len());
            rest = r2;
            if rest.is_empty() {
                break;
            }
        }
        out.push(Line {
            no,
            col,
            dashes,
            text: rest,
        });
    }
    out
}

/// The 1-based line of `path` in `text`, or of its nearest enclosing field that can be found;
/// `None` when not even the first key is there. Handles block mappings and sequences; a value
/// in flow style (`{...}`, `[...]`) is found at the line of its key.
pub fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    let all = lines(text);
    // the block: a range of `all`, and the column its keys (or dashes) start at
    let mut start = 0;
    let mut end = all.len();
    let mut found: Option<usize> = None;
    // the item currently entered: keys of its first line live on the dash line
    let mut item_first: Option<usize> = None;
    for seg in path {
        if start >= end {
            break;
        }
        match seg {
            Seg::Key(k) => {
                let col = match item_first {
                    Some(i) => all[i].col,
                    None => all[start].col,
                };
                let hit = (start..end).find(|&i| {
                    all[i].col == col
                        && (all[i].text.starts_with(&format!("{k}:"))
                            || all[i].text.starts_with(&format!("\"{k}\":")))
                });
                let Some(i) = hit else { break };
                found = Some(all[i].no);
                item_first = None;
                // the value: the following lines indented deeper (or a sequence at the same
                // column, as YAML allows for a key's list)
                let mut j = i + 1;
                while j < end {
                    let l = &all[j];
                    let dash = l.dashes.first().copied();
                    let deeper = l.col > col && dash.is_none_or(|d| d >= col);
                    if !(deeper || dash == Some(col)) {
                        break;
                    }
                    j += 1;
                }
                start = i + 1;
                end = j;
                // a key of the value mapping may also follow inline on a flow line: stop here
                if start >= end {
                    break;
                }
            }
            Seg::Index(n) => {
                let dash_col = match all[start].dashes.first() {
                    Some(d) => *d,
                    None => break,
                };
                let items: Vec<usize> = (start..end)
                    .filter(|&i| all[i].dashes.first() == Some(&dash_col))
                    .collect();
                let Some(&i) = items.get(*n) else { break };
                found = Some(all[i].no);
                let next = items.get(n + 1).copied().unwrap_or(end);
                start = i;
                end = next;
                // the item's own keys start on its dash line, at its content column
                item_first = Some(i);
                if all[i].text.is_empty() {
                    // `-` alone: the content is on the next lines
                    start = i + 1;
                    item_first = None;
                }
            }
        }
    }
    found.map(|n| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::Key(s.into())
    }

    const DOC: &str = "\
name: x          # 1
workloads:       # 2
  - name: a      # 3
    at: 1m       # 4
    scale:       # 5
      - at: 2m   # 6
        replicas: 3  # 7
  - name: b      # 8
    until: 1m    # 9
    pdb: {minAvailable: 1}  # 10
faults:          # 11
- kind: x        # 12
  at: 3m         # 13
";

    #[test]
    fn finds_keys_items_and_nested_fields() {
        assert_eq!(locate(DOC, &[k("name")]), Some(1));
        assert_eq!(
            locate(DOC, &[k("workloads"), Seg::Index(0), k("name")]),
            Some(3)
        );
        assert_eq!(
            locate(DOC, &[k("workloads"), Seg::Index(0), k("at")]),
            Some(4)
        );
        assert_eq!(
            locate(
                DOC,
                &[
                    k("workloads"),
                    Seg::Index(0),
                    k("scale"),
                    Seg::Index(0),
                    k("replicas")
                ]
            ),
            Some(7)
        );
        assert_eq!(
            locate(DOC, &[k("workloads"), Seg::Index(1), k("until")]),
            Some(9)
        );
        assert_eq!(
            locate(
                DOC,
                &[k("workloads"), Seg::Index(1), k("pdb"), k("minAvailable")]
            ),
            Some(10)
        );
        // a sequence at the key's column
        assert_eq!(
            locate(DOC, &[k("faults"), Seg::Index(0), k("at")]),
            Some(13)
        );
        assert_eq!(
            locate(DOC, &[k("faults"), Seg::Index(0), k("kind")]),
            Some(12)
        );
        // missing parts: the nearest enclosing one
        assert_eq!(
            locate(DOC, &[k("workloads"), Seg::Index(1), k("memory")]),
            Some(8)
        );
        assert_eq!(locate(DOC, &[k("nothing")]), None);
        assert_eq!(
            render(&[k("workloads"), Seg::Index(1), k("until")]),
            "workloads[1].until"
        );
    }
}
