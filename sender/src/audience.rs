//! A campaign's audience: a saved lead filter (tags any-of, states, area codes, vertical),
//! checked at the edge and compiled to ONE fixed statement with bind parameters, where an empty
//! key matches everything. A state also matches leads without one of their own through the area
//! codes that serve it.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::field_error::FieldError;
use crate::leads::{Lead, parse_state, parse_tag, parse_vertical};
use crate::{WorkspaceId, area_codes};

/// The audience: leads matching every given key (tags: any of them). Empty: every lead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub area_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical: Option<String>,
}

impl Audience {
    /// Normalizes and checks every key (fields `audience.tags`, ...).
    pub fn parse(self) -> Result<Self, FieldError> {
        let tags = self.tags.iter().map(|t| parse_tag("audience.tags", t)).collect::<Result<_, _>>()?;
        let states = self.states.iter().map(|s| parse_state("audience.states", s)).collect::<Result<_, _>>()?;
        for code in &self.area_codes {
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::new("audience.area_codes", format!("{code:?}: use three digits, e.g. 305.")));
            }
        }
        let vertical = self.vertical.as_deref().map(|v| parse_vertical("audience.vertical", v)).transpose()?;
        Ok(Self { tags, states, area_codes: self.area_codes, vertical })
    }

    /// The area codes of the audience's states: a lead without a state of its own matches a
    /// state through its phone's area code.
    fn state_area_codes(&self) -> Vec<String> {
        self.states.iter().flat_map(|s| area_codes::codes_of(s)).map(str::to_owned).collect()
    }

    /// The audience's leads of `ws` with id after `after`, at most `limit`, ordered by id. The
    /// filter is one fixed statement with bind parameters (an empty key matches everything).
    pub async fn leads_page(
        &self,
        conn: &mut PgConnection,
        ws: WorkspaceId,
        after: Option<Uuid>,
        limit: i64,
    ) -> sqlx::Result<Vec<Lead>> {
        sqlx::query_as(
            "SELECT id, phone, first_name, last_name, state, time_zone, tags, vertical, line_type, attributes, \
                    created_at FROM leads \
             WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id > $2) \
               AND (cardinality($3::text[]) = 0 OR tags && $3) \
               AND (cardinality($4::text[]) = 0 OR state = ANY($4) \
                    OR (state IS NULL AND phone LIKE '+1%' AND substr(phone, 3, 3) = ANY($5))) \
               AND (cardinality($6::text[]) = 0 OR (phone LIKE '+1%' AND substr(phone, 3, 3) = ANY($6))) \
               AND ($7::text IS NULL OR vertical = $7) \
             ORDER BY id LIMIT $8",
        )
        .bind(ws)
        .bind(after)
        .bind(&self.tags)
        .bind(&self.states)
        .bind(self.state_area_codes())
        .bind(&self.area_codes)
        .bind(self.vertical.as_deref())
        .bind(limit)
        .fetch_all(conn)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_keys_are_checked() {
        let a = Audience { states: vec!["fl".into()], tags: vec!["Hot".into()], ..Default::default() };
        let a = a.parse().unwrap();
        assert_eq!((a.states[0].as_str(), a.tags[0].as_str()), ("FL", "hot"));
        assert!(a.state_area_codes().contains(&"305".to_owned()));
        let bad = Audience { area_codes: vec!["30".into()], ..Default::default() };
        assert_eq!(bad.parse().unwrap_err().field, "audience.area_codes");
    }
}
