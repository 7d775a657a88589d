//! `MethodNames`: the names tables and chart legends print for the methods, by registry name
//! (ARCHITECTURE.md "fer-report"). They come from the model registry (each model's
//! registration gives its display name: the paper's "BaseDCNN (FER)", "CMCNN", or an add-on's
//! own), so a new baseline is named in the report without editing this crate. A method the
//! names do not know keeps its registry name.

use std::collections::BTreeMap;

/// Display names by registry name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodNames {
    names: BTreeMap<String, String>,
}

impl MethodNames {
    /// From (registry name, display name) pairs, e.g. `ModelRegistry::display_names()`.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            names: pairs
                .into_iter()
                .map(|(id, name)| (id.to_string(), name.to_string()))
                .collect(),
        }
    }

    /// The display name of `model`, or `model` itself when it has none.
    pub fn get<'a>(&'a self, model: &'a str) -> &'a str {
        self.names.get(model).map_or(model, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_get_their_name_and_others_keep_theirs() {
        let names = MethodNames::new([("cmcnn", "CMCNN"), ("base-dcnn-fer", "BaseDCNN (FER)")]);
        assert_eq!(names.get("base-dcnn-fer"), "BaseDCNN (FER)");
        assert_eq!(names.get("my-baseline"), "my-baseline");
    }
}
