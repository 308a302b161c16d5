//! Onboarding flows (`onboarding.db`, `OnboardingRepository`).
//!
//! Owner: [`DatabaseType::Onboarding`] (legacy `onboarding.db`, consolidated
//! `core.db`). The DDL is
//! `OnboardingRepository._init_schema` of the original (read from the
//! public source). `completed_steps` is a JSON list, `metadata`
//! a JSON object; timestamps are UTC-aware ISO text. No foreign keys in the
//! original; no additions.

use crate::config::{DatabaseType, DbTarget};
use crate::table;

table! {
    /// A user's onboarding progress (id = `secrets.token_urlsafe(16)`).
    pub struct OnboardingFlow as ONBOARDING_FLOWS {
        name: "onboarding_flows",
        owner: DbTarget::Type(DatabaseType::Onboarding),
        version: 1,
        columns: {
            id: String => Text,
            user_id: String => Text,
            org_id: Option<String> => Text,
            current_step: String => Text,
            completed_steps: String => Json,
            use_case: Option<String> => Text,
            selected_template: Option<String> => Text,
            first_debate_id: Option<String> => Text,
            quick_start_profile: Option<String> => Text,
            metadata: Option<String> => Json,
            started_at: String => Timestamp,
            updated_at: String => Timestamp,
            completed_at: Option<String> => Timestamp,
        },
        primary_key: (id),
        autoincrement: false,
        indexes: {
            index idx_onboarding_user_org (user_id, org_id),
        },
        foreign_keys: {},
    }
}
