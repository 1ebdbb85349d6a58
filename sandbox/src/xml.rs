//! Small helpers for the XML of the AWS query protocol: reading moto's responses and writing
//! the sandbox's own.

use std::fmt::Write;

/// Returns the text of the first element named `tag`, anywhere in the document.
pub fn first_text(document: &str, tag: &str) -> Option<String> {
    let document = roxmltree::Document::parse(document).ok()?;
    document
        .descendants()
        .find(|node| node.has_tag_name(tag))
        .map(|node| node.text().unwrap_or_default().to_owned())
}

/// Returns the text of the direct child element named `tag`.
pub fn child_text(node: roxmltree::Node<'_, '_>, tag: &str) -> Option<String> {
    node.children()
        .find(|child| child.has_tag_name(tag))
        .map(|child| child.text().unwrap_or_default().to_owned())
}

/// Escapes text for use in element content.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\r' => escaped.push_str("&#xD;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Builds an XML document element by element.
#[derive(Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.out, "<{tag}>");
        self
    }

    pub fn open_with_namespace(&mut self, tag: &str, namespace: &str) -> &mut Self {
        let _ = write!(self.out, "<{tag} xmlns=\"{}\">", escape(namespace));
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.out, "</{tag}>");
        self
    }

    pub fn element(&mut self, tag: &str, text: &str) -> &mut Self {
        let _ = write!(self.out, "<{tag}>{}</{tag}>", escape(text));
        self
    }

    /// Writes the element only when there is a value, as AWS omits unset members.
    pub fn optional(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.element(tag, text);
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn written_text_reads_back() {
        let mut writer = XmlWriter::new();
        writer
            .open_with_namespace("R", "urn:x")
            .element("Reason", "didn't <change>")
            .optional("Missing", None)
            .close("R");
        let document = writer.finish();
        assert_eq!(
            first_text(&document, "Reason").as_deref(),
            Some("didn't <change>")
        );
        assert_eq!(first_text(&document, "Missing"), None);
    }
}
