//! The JSON text formats of JSON.GET (`INDENT`, `NEWLINE`, `SPACE`, `PRETTY`).

use jsondoc::Document;

/// The JSON text formats of JSON.GET.
pub(crate) struct Format {
    pub(crate) indent: Vec<u8>,
    pub(crate) newline: Vec<u8>,
    pub(crate) space: Vec<u8>,
}

impl Format {
    pub(crate) const COMPACT: Format = Format {
        indent: Vec::new(),
        newline: Vec::new(),
        space: Vec::new(),
    };

    /// `PRETTY`: two-space indent, `\n`, one space after `:`.
    pub(crate) fn pretty() -> Format {
        Format {
            indent: b"  ".to_vec(),
            newline: b"\n".to_vec(),
            space: b" ".to_vec(),
        }
    }

    pub(crate) fn is_compact(&self) -> bool {
        self.indent.is_empty() && self.newline.is_empty() && self.space.is_empty()
    }

    pub(crate) fn write(&self, document: &Document, out: &mut Vec<u8>) {
        if self.is_compact() {
            document.to_compact(out);
        } else {
            document.to_pretty(&self.indent, &self.newline, &self.space, out);
        }
    }
}
