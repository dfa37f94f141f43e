//! Fitting text to a terminal: wrapping prose at word boundaries and shortening table cells,
//! by characters (our output has no wide glyphs; colour codes are added after fitting).

/// Breaks `line` into lines of at most `width` characters at spaces; continuation lines are
/// indented by the line's own indentation plus two. A word longer than a line is split.
pub fn wrap(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width {
        return vec![line.to_string()];
    }
    let lead = line.chars().take_while(|c| *c == ' ').count();
    let indent = " ".repeat((lead + 2).min(width / 2));
    let mut out: Vec<String> = Vec::new();
    let mut cur = " ".repeat(lead);
    let mut cur_len = lead;
    let mut fresh = true;
    for word in line[lead..].split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let sep = usize::from(!fresh);
            if cur_len + sep + word.len() <= width {
                if !fresh {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                cur_len += sep + word.len();
                fresh = false;
                break;
            }
            if fresh {
                // Even alone the word does not fit: split it.
                let room = width.saturating_sub(cur_len).max(1);
                let rest = word.split_off(room.min(word.len()));
                cur.extend(word.iter());
                cur_len += word.len();
                word = rest;
                if word.is_empty() {
                    fresh = false;
                    break;
                }
            }
            out.push(std::mem::replace(&mut cur, indent.clone()));
            cur_len = indent.len();
            fresh = true;
        }
    }
    out.push(cur);
    out
}

/// `text` cut to `max` characters, the cut marked with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A list for a table cell: the first `keep` items, then how many more.
pub fn short_list(items: &[String], keep: usize) -> String {
    if items.len() <= keep {
        return items.join(", ");
    }
    format!("{} +{} more", items[..keep].join(", "), items.len() - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_words_keeps_indentation_and_splits_long_words() {
        assert_eq!(wrap("short", 10), ["short"]);
        assert_eq!(wrap("! aaa bbb ccc ddd", 9), ["! aaa bbb", "  ccc ddd"]);
        assert_eq!(wrap("  x yyyyyyyyyy", 8), ["  x", "    yyyy", "    yyyy", "    yy"]);
        for l in wrap(&"word ".repeat(500), 37) {
            assert!(l.chars().count() <= 37, "{l:?}");
        }
        let long = format!("! {}", "z".repeat(100));
        assert!(wrap(&long, 20).iter().all(|l| l.chars().count() <= 20));
    }

    #[test]
    fn truncates_and_shortens_lists() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let v: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
        assert_eq!(short_list(&v, 3), "p0, p1, p2 +2 more");
        assert_eq!(short_list(&v[..2], 3), "p0, p1");
    }
}
