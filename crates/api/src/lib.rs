//! The gRPC contract as Rust, in one crate that both `nba-server` and the fuzz targets
//! depend on, so that the code fuzzed is the code served.
//!
//! - [`proto`]: code generated from `proto/` (messages always; tonic services and clients
//!   with the default `grpc` feature) and the descriptor set for reflection.
//! - [`decode`]: client input that arrives as data rather than as protobuf fields (Arrow
//!   Flight record batches, KServe V2 tensors), turned into plain values or an error
//!   naming the field at fault.
//!
//! Without the `grpc` feature (`default-features = false`) the crate needs neither tonic
//! nor its network stack, which keeps the fuzz targets' instrumented build small.

pub mod decode;
pub mod proto;
