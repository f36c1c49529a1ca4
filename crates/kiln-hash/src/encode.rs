//! An unambiguous byte encoding for keys: every string is length-prefixed and every list
//! count-prefixed, so no two different inputs can feed the hasher the same bytes
//! (`["ab", "c"]` and `["a", "bc"]` differ). Integers are little-endian and fixed width.

use crate::Digest;

pub(crate) struct Encoder(blake3::Hasher);

impl Encoder {
    /// A hasher in its own BLAKE3 key-derivation context, so a digest made for one purpose
    /// can never equal one made for another.
    pub(crate) fn new(context: &str) -> Self {
        Self(blake3::Hasher::new_derive_key(context))
    }

    pub(crate) fn u32(&mut self, n: u32) -> &mut Self {
        self.0.update(&n.to_le_bytes());
        self
    }

    pub(crate) fn u64(&mut self, n: u64) -> &mut Self {
        self.0.update(&n.to_le_bytes());
        self
    }

    pub(crate) fn bool(&mut self, b: bool) -> &mut Self {
        self.0.update(&[u8::from(b)]);
        self
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
        self
    }

    pub(crate) fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            None => self.bool(false),
            Some(s) => self.bool(true).str(s),
        }
    }

    pub(crate) fn strs<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a str>) -> &mut Self {
        self.u64(items.len() as u64);
        for item in items {
            self.str(item);
        }
        self
    }

    pub(crate) fn digest(&mut self, d: &Digest) -> &mut Self {
        self.0.update(d.as_bytes());
        self
    }

    pub(crate) fn finish(&self) -> Digest {
        Digest::from(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Digest {
        Encoder::new("test").strs(items.iter().copied()).finish()
    }

    #[test]
    fn moving_a_boundary_between_strings_changes_the_digest() {
        assert_ne!(list(&["ab", "c"]), list(&["a", "bc"]));
        assert_ne!(list(&["", "a"]), list(&["a", ""]));
        assert_ne!(list(&[]), list(&[""]));
    }

    #[test]
    fn none_differs_from_an_empty_string() {
        let none = Encoder::new("test").opt_str(None).finish();
        let empty = Encoder::new("test").opt_str(Some("")).finish();
        assert_ne!(none, empty);
    }

    #[test]
    fn contexts_separate_domains() {
        assert_ne!(
            Encoder::new("a").str("x").finish(),
            Encoder::new("b").str("x").finish()
        );
    }
}
