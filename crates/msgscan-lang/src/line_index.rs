//! Byte offset → 1-based line and column (in characters), CRLF-safe.

/// A 1-based line and column. Columns count Unicode scalar values, as editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

/// Line starts of one text, for converting byte offsets to [`LineCol`].
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr_iter(text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The line and column of `offset` in `text` (the text this index was built from).
    /// Offsets past the end or inside a UTF-8 sequence are clamped, never a panic.
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let column = text[start..end].chars().count();
        LineCol {
            line: (line + 1) as u32,
            column: (column + 1) as u32,
        }
    }

    /// The byte range of 1-based `line` without its line terminator.
    pub fn line_range(&self, text: &str, line: u32) -> Option<std::ops::Range<usize>> {
        let idx = (line as usize).checked_sub(1)?;
        let start = *self.starts.get(idx)?;
        let mut end = self.starts.get(idx + 1).copied().unwrap_or(text.len());
        let bytes = text.as_bytes();
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        Some(start..end)
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

fn memchr_iter(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| (b == b'\n').then_some(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_unicode() {
        let text = "ab\r\nçd\r\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), LineCol { line: 1, column: 1 });
        let d = text.find('d').unwrap();
        assert_eq!(idx.line_col(text, d), LineCol { line: 2, column: 2 });
        assert_eq!(&text[idx.line_range(text, 2).unwrap()], "çd");
        assert_eq!(idx.line_col(text, 999), LineCol { line: 3, column: 2 });
        assert_eq!(idx.line_range(text, 9), None);
    }
}
