//! Payment methods implementing mpp-core's method traits, one feature-gated module each (filled by later issues).
