//! The rows of the fault matrix ("Prove it cannot break"), shared by the hooks' columns
//! (`crates/cc-aws-hooks/tests/it/faults.rs`) and the daemon's
//! (`crates/cc-aws-keepalive/tests/it/faults.rs`), so both name the same rows.

/// Defines `enum Case` (one variant per row) and `mod row` with one `#[test]` per quick row
/// plus `slow_rows_together` for the rows that wait out a budget. Each test calls
/// `super::run_rows(&[Case])`, which the invoking module defines.
///
/// `fault_cases!()` gives the matrix's rows; `fault_cases! { quick: [..], slow: [..] }` any.
#[macro_export]
macro_rules! fault_cases {
    () => {
        $crate::fault_cases! {
            quick: [
                Oidc500,
                Oidc500TokenStillValid,
                Portal500,
                Oidc429,
                Portal429,
                OidcTruncated,
                PortalTruncated,
                OidcNotJson,
                PortalNotJson,
                OidcRefused,
                PortalRefused,
                OidcAbsurdExpiry,
                TokenCacheDirReadOnly,
                CliCacheDirReadOnly,
                TokenCacheEmpty,
                TokenCacheHalfWritten,
                RoleCacheHalfWritten,
                ClockFarPast,
                ClockFarFuture,
                HomeUnset,
                ConfigMissing,
                AwsConfigMissing,
            ],
            slow: [OidcHang, PortalHang, LockHeld],
        }
    };
    (quick: [$($quick:ident),* $(,)?], slow: [$($slow:ident),* $(,)?] $(,)?) => {
        /// The faults, one row each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Case { $($quick,)* $($slow,)* }

        /// One test per quick row: cargo runs them in parallel and names the failing one.
        #[allow(non_snake_case)]
        mod row {
            $( #[test] fn $quick() { super::run_rows(&[super::Case::$quick]) } )*

            /// The rows that wait out a budget (15 s client, 20 s lock), all at once.
            #[test]
            fn slow_rows_together() {
                super::run_rows(&[$(super::Case::$slow),*])
            }
        }
    };
}
