//! Code generated from `proto/` by `build.rs`: the `nba.predict.v1` API, the Open
//! Inference Protocol (`inference`), and the descriptor set served by reflection. The
//! service traits (`*_server`) and clients (`*_client`) exist with the `grpc` feature only;
//! the messages always.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod predict {
    include!(concat!(env!("OUT_DIR"), "/nba.predict.v1.rs"));
}

pub mod inference {
    include!(concat!(env!("OUT_DIR"), "/inference.rs"));
}

/// Encoded `FileDescriptorSet` of every proto file (for gRPC server reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
