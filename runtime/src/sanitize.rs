//! Guest text reaches the user's terminal only through here: a driver must not be able to move
//! the cursor, rewrite earlier lines, set the window title, hide text, or reorder what is shown
//! (bidi overrides, zero-width and other invisible format characters).

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Longest single message a driver can print; the rest is cut with a note.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Removes escape sequences and control characters other than newline and tab, and cuts
/// over-long text.
pub fn clean(text: &str) -> String {
    let mut out = strip(text);
    if out.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        let dropped = out.len() - cut;
        out.truncate(cut);
        out.push_str(&format!(" … ({dropped} bytes cut)"));
    }
    out
}

/// Removes escape sequences, control characters other than newline and tab, and format
/// characters (Unicode category Cf: bidi overrides and isolates, zero-width joiners and spaces,
/// the byte-order mark), which change how text displays without being seen.
pub fn strip(text: &str) -> String {
    // The stripper drops tabs and newlines with the other controls: keep them by cleaning the
    // pieces between them.
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (j, piece) in line.split('\t').enumerate() {
            if j > 0 {
                out.push('\t');
            }
            out.extend(
                strip_ansi_escapes::strip_str(piece)
                    .chars()
                    .filter(|c| !c.is_control() && !is_format(*c)),
            );
        }
    }
    out
}

fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn strips_csi_osc_and_bare_controls() {
        let hostile = "ok\x1b[2J\x1b[1;1Hwiped\x1b]0;title\x07 \rback\x08 bell\x07 c1\u{9b}31m";
        let cleaned = clean(hostile);
        assert!(!cleaned.chars().any(|c| c.is_control()), "{cleaned:?}");
        assert!(cleaned.starts_with("okwiped"));
        assert!(cleaned.contains("back"));
    }

    #[test]
    fn drops_bidi_overrides_zero_width_and_bom() {
        let spoof = "ok\u{202E}evil\u{202C} \u{2066}a\u{2069} z\u{200B}w\u{200D}j \u{FEFF}bom \u{2060}\u{00AD}";
        assert_eq!(clean(spoof), "okevil a zwj bom ");
        // Visible non-ASCII stays.
        assert_eq!(clean("Grüße → ✓ 日本"), "Grüße → ✓ 日本");
    }

    #[test]
    fn keeps_newlines_tabs_and_unicode() {
        assert_eq!(clean("a\tb\nc ✓"), "a\tb\nc ✓");
    }

    #[test]
    fn cuts_huge_messages() {
        let huge = "é".repeat(super::MAX_MESSAGE_BYTES);
        let cleaned = clean(&huge);
        assert!(cleaned.len() < super::MAX_MESSAGE_BYTES + 64);
        assert!(cleaned.ends_with("bytes cut)"));
    }
}
