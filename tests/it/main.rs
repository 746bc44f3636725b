//! The integration tests, one binary; each module covers one part of the product.

mod pipeline;
