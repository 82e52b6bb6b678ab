{
  "targets": [
    {
      "target_name": "lucid_capture",
      "sources": ["src/addon.cc", "src/x11_capture.cc", "src/x11_input.cc", "src/tile_differ.cc", "src/v4l2_io.cc", "src/v4l2_capture.cc", "src/x11_cursor.cc", "src/cursor_addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lX11", "-lXext", "-lXdamage", "-lXfixes", "-lXi", "-lxkbcommon", "-ljpeg"]
    },
    {
      "target_name": "lucid_test_support",
      "sources": ["src/test_support.cc", "src/test/v4l2_scenario.cc", "src/v4l2_capture.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall"],
      "libraries": ["-lX11", "-lXfixes", "-lXrender", "-ljpeg"]
    }
  ]
}
