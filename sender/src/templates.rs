//! Message templates: `{{first_name}}` variables with fallbacks (`{{first_name|there}}`).
//!
//! A template is parsed once (bad syntax is an error naming the position) and rendered per
//! recipient. A variable with no value and no fallback makes rendering fail with the names that
//! were missing, so the engine and the dry-run preview skip that recipient with a reason instead
//! of texting "Hi ,".

use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var { name: String, fallback: Option<String> },
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("unclosed '{{{{' at character {0}")]
    Unclosed(usize),
    #[error("empty or invalid variable name at character {0}; use letters, digits and _")]
    BadName(usize),
}

/// Rendering failed: these variables had no value and no fallback.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("missing values for {}", .0.join(", "))]
pub struct MissingVariables(pub Vec<String>);

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or(TemplateError::Unclosed(offset + start))?;
            let inner = &after[..end];
            let (name, fallback) = match inner.split_once('|') {
                Some((n, f)) => (n.trim(), Some(f.trim().to_owned())),
                None => (inner.trim(), None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::BadName(offset + start));
            }
            parts.push(Part::Var { name: name.to_ascii_lowercase(), fallback });
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The variable names the template uses, in order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Var { name, .. } = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// Renders with `values` (keys lower-case); blank values count as missing.
    pub fn render(&self, values: &HashMap<String, String>) -> Result<String, MissingVariables> {
        let mut out = String::new();
        let mut missing = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var { name, fallback } => {
                    match values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).or(fallback.as_deref()) {
                        Some(v) => out.push_str(v),
                        None if !missing.contains(name) => missing.push(name.clone()),
                        None => {}
                    }
                }
            }
        }
        if missing.is_empty() { Ok(out) } else { Err(MissingVariables(missing)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn renders_variables_and_fallbacks() {
        let t = Template::parse("Hi {{ First_Name | there }}, about {{street}}: {{first_name|x}}!").unwrap();
        assert_eq!(t.variables(), ["first_name", "street"]);
        assert_eq!(
            t.render(&values(&[("first_name", "Ana"), ("street", "12 Oak St")])).unwrap(),
            "Hi Ana, about 12 Oak St: Ana!"
        );
        assert_eq!(t.render(&values(&[("first_name", "  "), ("street", "Elm")])).unwrap(), "Hi there, about Elm: x!");
    }

    #[test]
    fn missing_values_without_fallback_fail_with_their_names() {
        let t = Template::parse("{{a}} {{b|ok}} {{c}} {{a}}").unwrap();
        assert_eq!(t.render(&HashMap::new()), Err(MissingVariables(vec!["a".into(), "c".into()])));
    }

    #[test]
    fn bad_syntax_names_the_position() {
        assert_eq!(Template::parse("Hi {{name"), Err(TemplateError::Unclosed(3)));
        assert_eq!(Template::parse("Hi {{ }}"), Err(TemplateError::BadName(3)));
        assert_eq!(Template::parse("ok {{a-b}}"), Err(TemplateError::BadName(3)));
        assert_eq!(
            Template::parse("no variables, {single} braces").unwrap().render(&HashMap::new()).unwrap(),
            "no variables, {single} braces"
        );
    }
}
