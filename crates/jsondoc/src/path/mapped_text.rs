//! Text produced by rewriting other text, remembering where each byte came from so that parse errors in the
//! rewritten text can point into the text the user wrote.

/// Rewritten text with, for every byte (plus its end), the offset in the source it came from.
#[derive(Debug, Default)]
pub(crate) struct MappedText {
    pub(crate) text: String,
    source_offsets: Vec<usize>,
}

impl MappedText {
    pub(crate) fn push_char(&mut self, c: char, source_offset: usize) {
        self.text.push(c);
        self.source_offsets
            .extend(std::iter::repeat_n(source_offset, c.len_utf8()));
    }

    pub(crate) fn push_str(&mut self, s: &str, source_offset: usize) {
        for c in s.chars() {
            self.push_char(c, source_offset);
        }
    }

    /// Drops everything from byte `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.text.truncate(len);
        self.source_offsets.truncate(len);
    }

    /// Marks the end of the text as coming from the end of a source of `source_len` bytes.
    pub(crate) fn finish(mut self, source_len: usize) -> MappedText {
        self.source_offsets.push(source_len);
        self
    }

    /// The source offset of byte `offset` of the text (offsets past the end map to the source's end).
    pub(crate) fn source_offset(&self, offset: usize) -> usize {
        match self.source_offsets.get(offset) {
            Some(&source_offset) => source_offset,
            None => self.source_offsets.last().copied().unwrap_or(offset),
        }
    }
}
