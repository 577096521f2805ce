// lce_nas.engine.native._build_info: facts fixed when the native engine was compiled.
// setup.py defines LCE_NAS_NATIVE_SOURCE_DIGEST (the sha256 of every file under src/)
// and rebuilds this module whenever one of those files changes.
#include <pybind11/pybind11.h>

#ifndef LCE_NAS_NATIVE_SOURCE_DIGEST
#error "LCE_NAS_NATIVE_SOURCE_DIGEST must be defined by the build (setup.py)"
#endif

PYBIND11_MODULE(_build_info, m) {
  m.doc() = "Build facts of the native engine";
  m.attr("source_digest") = LCE_NAS_NATIVE_SOURCE_DIGEST;
}
