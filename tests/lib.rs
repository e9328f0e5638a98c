//! The SDK's integration tests: each file beside this one is a test target that starts real
//! servers (`RS_RM_SERVER`, or the matrix through `cargo make test`) and loads the modules,
//! fixtures and examples into them. Helpers are in `common/`. Nothing to build here.
