//! The Payment scheme's requirement registry, vectors and errata as data, with the checks that keep them true (the registry lands with the conformance issue).
