//! The integration tests, one binary; each module covers one part of the product.

mod browser;
mod cdn;
mod meaning;
mod media;
mod pipeline;
mod publish;
mod serve;
mod sources;
