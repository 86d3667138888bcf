//! The IANA time zone of each US state, territory and Canadian province: the zone covering most
//! of its people. A lead without a time zone of its own gets its area code's state's zone (or its
//! address state's), so its sending window is evaluated in the right local time.

use chrono_tz::Tz;

/// Where nothing better is known: the schema's default for outbox rows.
pub const DEFAULT_ZONE: Tz = chrono_tz::America::New_York;

/// The zone covering most of `state` (two-letter code), if known.
pub fn zone_of(state: &str) -> Option<Tz> {
    use chrono_tz::America as A;
    use chrono_tz::Pacific as P;
    Some(match state {
        "CT" | "DC" | "DE" | "GA" | "MA" | "MD" | "ME" | "NC" | "NH" | "NJ" | "NY" | "OH" | "PA" | "RI" | "SC"
        | "VA" | "VT" | "WV" | "FL" => A::New_York,
        "MI" => A::Detroit,
        "IN" => A::Indiana::Indianapolis,
        "KY" => A::Kentucky::Louisville,
        "TN" | "AL" | "AR" | "IA" | "IL" | "KS" | "LA" | "MN" | "MO" | "MS" | "ND" | "NE" | "OK" | "SD" | "TX"
        | "WI" => A::Chicago,
        "AZ" => A::Phoenix,
        "CO" | "MT" | "NM" | "UT" | "WY" => A::Denver,
        "ID" => A::Boise,
        "CA" | "NV" | "OR" | "WA" => A::Los_Angeles,
        "AK" => A::Anchorage,
        "HI" => P::Honolulu,
        "PR" | "VI" => A::Puerto_Rico,
        "GU" | "MP" => P::Guam,
        "AS" => P::Pago_Pago,
        "ON" | "QC" => A::Toronto,
        "NB" | "NS" => A::Halifax,
        "NL" => A::St_Johns,
        "MB" => A::Winnipeg,
        "SK" => A::Regina,
        "AB" | "NT" => A::Edmonton,
        "BC" => A::Vancouver,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_of_the_area_code_table_has_a_zone() {
        let states = "AK AL AR AS AZ CA CO CT DC DE FL GA GU HI IA ID IL IN KS KY LA MA MD ME MI MN MO MP MS MT NC \
                      ND NE NH NJ NM NV NY OH OK OR PA PR RI SC SD TN TX UT VA VI VT WA WI WV WY AB BC MB NB NL NS \
                      NT ON QC SK";
        for s in states.split_whitespace() {
            assert!(zone_of(s).is_some(), "{s}");
        }
        assert_eq!(zone_of("TX"), Some(chrono_tz::America::Chicago));
        assert_eq!(zone_of("ZZ"), None);
    }
}
