//! Typed access to a node's attributes.

use super::proto::{AttributeProto, NodeProto};
use super::tensor::{Const, decode};
use crate::error::{Error, Result};

/// A node's attributes with errors naming the node.
pub struct Attrs<'a> {
    node: &'a NodeProto,
}

impl<'a> Attrs<'a> {
    /// Attributes of `node`.
    pub fn new(node: &'a NodeProto) -> Self {
        Self { node }
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name() == name)
    }

    /// An error about attribute `name` of this node.
    pub fn error(&self, name: &str, msg: impl std::fmt::Display) -> Error {
        Error::invalid_op(
            format!("ONNX node {:?} ({})", self.node.name(), self.node.op_type()),
            format!("attribute {name}: {msg}"),
        )
    }

    /// The error for a required attribute `name` that the node lacks.
    pub fn missing(&self, name: &str) -> Error {
        Error::MalformedModel {
            what: format!("required attribute {name} is missing"),
            location: format!("ONNX node {:?} ({})", self.node.name(), self.node.op_type()),
            source: None,
        }
    }

    /// True when present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An int attribute or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).and_then(|a| a.i).unwrap_or(default)
    }

    /// A float attribute or `default`.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).and_then(|a| a.f).unwrap_or(default)
    }

    /// A float attribute or `default`; an error naming the node when the attribute is present
    /// but not a float (an int `alpha: 1` where the spec says float, a list, ...).
    pub fn float_strict(&self, name: &str, default: f32) -> Result<f32> {
        let Some(a) = self.get(name) else {
            return Ok(default);
        };
        let float = super::proto::attribute_proto::AttributeType::Float as i32;
        match (a.r#type, a.f) {
            (Some(t), Some(v)) if t == float => Ok(v),
            // Old writers may leave the type unset; the value field is then the only witness.
            (None, Some(v)) => Ok(v),
            (t, _) => Err(self.error(
                name,
                format!("must be a float (attribute type {})", t.unwrap_or(0)),
            )),
        }
    }

    /// A string attribute or `default`.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_else(|| default.to_string())
    }

    /// An ints attribute, if present.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    /// A floats attribute, if present.
    pub fn floats(&self, name: &str) -> Option<Vec<f32>> {
        self.get(name).map(|a| a.floats.clone())
    }

    /// A tensor attribute, if present.
    pub fn tensor(&self, name: &str) -> Result<Option<Const>> {
        match self.get(name).and_then(|a| a.t.as_ref()) {
            Some(t) => decode(t, None).map(Some),
            None => Ok(None),
        }
    }

    /// Non-negative ints as usize, or `default` repeated when absent.
    pub fn usizes(&self, name: &str, len: usize, default: usize) -> Result<Vec<usize>> {
        match self.ints(name) {
            None => Ok(vec![default; len]),
            Some(v) => v
                .iter()
                .map(|&x| {
                    usize::try_from(x)
                        .map_err(|_| self.error(name, format!("{v:?} has a negative entry")))
                })
                .collect(),
        }
    }
}
