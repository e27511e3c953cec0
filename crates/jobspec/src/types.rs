//! HCL2 type constraints of `variable` blocks (`string`, `list(number)`,
//! `object({name = string})`, …) and the conversions HCL applies to values.

use hcl::edit::expr::{Expression, ObjectKey};
use hcl::{Map, Number, Value};

/// A type constraint.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// `any`: whatever is given.
    Any,
    /// `string`.
    String,
    /// `number`.
    Number,
    /// `bool`.
    Bool,
    /// `list(T)` and `set(T)`.
    List(Box<Type>),
    /// `map(T)`.
    Map(Box<Type>),
    /// `object({k = T, …})`.
    Object(Vec<(String, Type)>),
    /// `tuple([T, …])`.
    Tuple(Vec<Type>),
}

impl Type {
    /// The constraint an expression spells, or why it spells none.
    pub fn from_expr(e: &Expression) -> Result<Type, String> {
        match e {
            Expression::Variable(v) => match v.as_str() {
                "any" => Ok(Type::Any),
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                other => Err(format!("The keyword {other:?} is not a valid type specification.")),
            },
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                let args: Vec<&Expression> = call.args.iter().collect();
                let [arg] = args.as_slice() else {
                    return Err(format!("The {name} type constructor requires one argument."));
                };
                match name {
                    "list" | "set" => Ok(Type::List(Box::new(Type::from_expr(arg)?))),
                    "map" => Ok(Type::Map(Box::new(Type::from_expr(arg)?))),
                    "object" => {
                        let Expression::Object(fields) = arg else {
                            return Err("The object type constructor requires an object of attribute types.".into());
                        };
                        let mut out = Vec::new();
                        for (k, v) in fields.iter() {
                            let key = match k {
                                ObjectKey::Ident(i) => i.as_str().to_owned(),
                                ObjectKey::Expression(Expression::String(s)) => s.as_str().to_owned(),
                                ObjectKey::Expression(_) => {
                                    return Err("Object attribute names must be identifiers.".into())
                                }
                            };
                            out.push((key, Type::from_expr(v.expr())?));
                        }
                        Ok(Type::Object(out))
                    }
                    "tuple" => {
                        let Expression::Array(items) = arg else {
                            return Err("The tuple type constructor requires a list of element types.".into());
                        };
                        Ok(Type::Tuple(items.iter().map(Type::from_expr).collect::<Result<_, _>>()?))
                    }
                    other => Err(format!("Keyword {other:?} is not a valid type constructor.")),
                }
            }
            _ => Err("A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).".into()),
        }
    }

    /// `value` converted to this type, as HCL converts (numbers and bools to strings and
    /// back), or why it cannot be.
    pub fn convert(&self, value: Value) -> Result<Value, String> {
        match (self, value) {
            (_, Value::Null) => Ok(Value::Null),
            (Type::Any, v) => Ok(v),
            (Type::String, Value::String(s)) => Ok(Value::String(s)),
            (Type::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (Type::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (Type::Number, Value::Number(n)) => Ok(Value::Number(n)),
            (Type::Number, Value::String(s)) => parse_number(&s)
                .map(Value::Number)
                .ok_or_else(|| format!("a number is required, not {s:?}")),
            (Type::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
            (Type::Bool, Value::String(s)) if s == "true" => Ok(Value::Bool(true)),
            (Type::Bool, Value::String(s)) if s == "false" => Ok(Value::Bool(false)),
            (Type::List(t), Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| t.convert(v).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (Type::Map(t), Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| match t.convert(v) {
                    Ok(v) => Ok((k, v)),
                    Err(e) => Err(format!("element {k:?}: {e}")),
                })
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            (Type::Object(fields), Value::Object(mut m)) => {
                let mut out = Map::new();
                for (name, t) in fields {
                    let v = m
                        .shift_remove(name)
                        .ok_or_else(|| format!("attribute {name:?} is required"))?;
                    out.insert(
                        name.clone(),
                        t.convert(v)
                            .map_err(|e| format!("attribute {name:?}: {e}"))?,
                    );
                }
                Ok(Value::Object(out))
            }
            (Type::Tuple(types), Value::Array(items)) if types.len() == items.len() => types
                .iter()
                .zip(items)
                .map(|(t, v)| t.convert(v))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (t, v) => Err(format!(
                "{} is required, not {}",
                t.describe(),
                describe(&v)
            )),
        }
    }

    /// Whether a raw `-var` string should be parsed as an HCL expression first.
    pub fn is_complex(&self) -> bool {
        matches!(
            self,
            Type::List(_) | Type::Map(_) | Type::Object(_) | Type::Tuple(_)
        )
    }

    fn describe(&self) -> &'static str {
        match self {
            Type::Any => "a value",
            Type::String => "a string",
            Type::Number => "a number",
            Type::Bool => "a bool",
            Type::List(_) => "a list",
            Type::Map(_) => "a map",
            Type::Object(_) => "an object",
            Type::Tuple(_) => "a tuple",
        }
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_number(s: &str) -> Option<Number> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::from(i));
    }
    s.parse::<f64>().ok().and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        Type::from_expr(&s.parse().unwrap()).unwrap()
    }

    #[test]
    fn type_constraints_convert_as_hcl_does() {
        assert_eq!(ty("number").convert("3".into()), Ok(Value::from(3)));
        assert_eq!(ty("string").convert(Value::from(3)), Ok("3".into()));
        assert!(ty("bool").convert("yes".into()).is_err());
        let list = ty("list(number)");
        assert_eq!(
            list.convert(Value::Array(vec!["1".into(), Value::from(2)])),
            Ok(Value::Array(vec![Value::from(1), Value::from(2)]))
        );
        let obj = ty("object({name = string, port = number})");
        assert!(obj
            .convert(Value::Object(Map::new()))
            .unwrap_err()
            .contains("\"name\""));
        assert!(Type::from_expr(&"strung".parse().unwrap()).is_err());
    }
}
