// Interaction on an X display, read on its own connection: key presses and pointer buttons from
// XInput2 raw events on the root window, the focused top-level window (title and class), and new
// owners of the CLIPBOARD and PRIMARY selections (XFixes). What it may read depends on `full`:
// without it no keycode is ever looked up (key presses are only counted) and no selection text is
// read (only its size).
#pragma once
#include <X11/Xlib.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lucid {

struct InputEvent {
  enum class Kind { Key, Click, Focus, Clipboard };
  explicit InputEvent(Kind k) : kind(k) {}
  Kind kind;
  double epochMs = 0;
  // Key: the text the press typed (only with `full`; "" for keys that type nothing)
  std::string text;
  // Click
  int button = 0, x = 0, y = 0;
  // Focus
  std::string title, klass;
  // Clipboard: selection name, size of its UTF-8 text (0 when it has none or the owner never
  // answered), and its text (only with `full`, at most kClipboardTextCap bytes)
  std::string selection;
  double bytes = 0;
  bool hasText = false;
  std::string clipText;
};

class X11Input {
 public:
  static constexpr size_t kClipboardTextCap = 64 * 1024;
  // How long a selection owner may take to answer (each step of an INCR transfer too).
  static constexpr double kSelectionTimeoutMs = 2000;

  ~X11Input();
  // Connects to `displayName`. Returns "" or a message saying what failed.
  std::string Open(const std::string& displayName, bool full);
  // Appends what happened since the last call, oldest first; never blocks on another client.
  // Returns "" or an error (the connection is lost).
  std::string Drain(std::vector<InputEvent>& out);
  void Close();
  void MarkConnectionLost() { connectionLost_ = true; }

 private:
  struct Conversion {
    bool active = false;
    Atom selection = 0;
    Atom property = 0;
    Time requested = 0;
    double epochMs = 0;
    double deadline = 0;
    bool incr = false;
    double bytes = 0;
    std::string text;
  };
  double ToEpoch(Time t, double now) const;
  // Returns the event's server time.
  Time HandleRaw(XEvent& event, std::vector<InputEvent>& out);
  void StartConversion(Atom selection, Time when);
  void HandleSelectionNotify(const XSelectionEvent& event, std::vector<InputEvent>& out);
  void HandleIncrChunk(Conversion& c, std::vector<InputEvent>& out);
  // Reads (and deletes) the property; appends to c's size and, with `full`, its text.
  bool ReadInto(Conversion& c, bool& empty);
  void Finish(Conversion& c, std::vector<InputEvent>& out);
  void CheckFocus(std::vector<InputEvent>& out);
  Window FocusedTopLevel();
  Window ClientOf(Window top);
  std::string TitleOf(Window w);
  std::string ClassOf(Window w);
  bool HasProperty(Window w, Atom property);
  std::string KeyText(int keycode);
  Conversion* ConversionFor(Atom selection);

  Display* display_ = nullptr;
  Window root_ = 0;
  Window window_ = 0;  // ours: selection conversions land in its properties
  bool full_ = false;
  bool connectionLost_ = false;
  int xiOpcode_ = 0;
  int fixesEventBase_ = 0;
  double timeOffsetMs_ = 0;  // epoch ms minus X server ms
  Atom clipboard_ = 0, primary_ = 0, utf8_ = 0, incr_ = 0, netActive_ = 0, netWmName_ = 0, wmState_ = 0;
  Conversion conversions_[2];
  // with `full`: keycodes held down (to know Shift, Ctrl and Alt), each 0..255
  std::vector<uint8_t> down_ = std::vector<uint8_t>(256, 0);
  std::pair<Window, Window> clientOfTop_{0, 0};  // the last top-level in front and its client window
  Window lastFocus_ = 0;
  std::string lastTitle_, lastClass_;
  bool focusKnown_ = false;
};

}  // namespace lucid
