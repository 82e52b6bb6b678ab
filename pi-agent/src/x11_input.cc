#include "x11_input.h"

#include <X11/XKBlib.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/XInput2.h>
#include <X11/extensions/Xfixes.h>
#include <X11/keysym.h>
#include <xkbcommon/xkbcommon.h>

#include <algorithm>
#include <chrono>
#include <deque>

namespace lucid {
namespace {

double NowMs() {
  return double(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// Xlib has one process-wide error handler. A window that closes while we read its title answers
// BadWindow, which Xlib's default handler would turn into exit(): ours ignores it, and passes it
// on to whatever handler was there before (the screen capture's), unless that was Xlib's default.
XErrorHandler previousHandler = nullptr;
int IgnoreXError(Display* display, XErrorEvent* event) {
  if (previousHandler) previousHandler(display, event);
  return 0;
}
void InstallErrorHandler() {
  XErrorHandler before = XSetErrorHandler(nullptr);
  XErrorHandler xlibDefault = XSetErrorHandler(IgnoreXError);
  if (before != IgnoreXError && before != xlibDefault) previousHandler = before;
}

int IgnoreIOError(Display*) { return 0; }
void ConnectionLost(Display*, void* input) { static_cast<X11Input*>(input)->MarkConnectionLost(); }

Bool IsPropertyNotifyOn(Display*, XEvent* event, XPointer window) {
  return event->type == PropertyNotify && event->xproperty.window == *reinterpret_cast<Window*>(window);
}

std::string Latin1ToUtf8(const unsigned char* s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < 0x80) {
      out += char(s[i]);
    } else {
      out += char(0xc0 | (s[i] >> 6));
      out += char(0x80 | (s[i] & 0x3f));
    }
  }
  return out;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void TrimUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) end--;
  s.resize(end);
}

constexpr size_t kTitleCap = 4096;

}  // namespace

X11Input::~X11Input() { Close(); }

std::string X11Input::Open(const std::string& displayName, bool full) {
  InstallErrorHandler();
  XSetIOErrorHandler(IgnoreIOError);
  full_ = full;
  display_ = XOpenDisplay(displayName.c_str());
  if (!display_) return "cannot open X display \"" + displayName + "\" for interaction events";
  XSetIOErrorExitHandler(display_, ConnectionLost, this);
  root_ = DefaultRootWindow(display_);

  int event, error;
  if (!XQueryExtension(display_, "XInputExtension", &xiOpcode_, &event, &error)) {
    Close();
    return "X display \"" + displayName + "\" has no XInput extension: interaction cannot be recorded";
  }
  int major = 2, minor = 2;
  if (XIQueryVersion(display_, &major, &minor) != Success) {
    Close();
    return "X display \"" + displayName + "\" has no XInput 2: interaction cannot be recorded";
  }
  int fixesError;
  if (!XFixesQueryExtension(display_, &fixesEventBase_, &fixesError)) {
    Close();
    return "X display \"" + displayName + "\" has no XFIXES extension: clipboard changes cannot be seen";
  }

  clipboard_ = XInternAtom(display_, "CLIPBOARD", False);
  primary_ = XA_PRIMARY;
  utf8_ = XInternAtom(display_, "UTF8_STRING", False);
  incr_ = XInternAtom(display_, "INCR", False);
  netActive_ = XInternAtom(display_, "_NET_ACTIVE_WINDOW", False);
  netWmName_ = XInternAtom(display_, "_NET_WM_NAME", False);
  wmState_ = XInternAtom(display_, "WM_STATE", False);
  conversions_[0].selection = clipboard_;
  conversions_[0].property = XInternAtom(display_, "LUCID_CLIPBOARD", False);
  conversions_[1].selection = primary_;
  conversions_[1].property = XInternAtom(display_, "LUCID_PRIMARY", False);

  window_ = XCreateSimpleWindow(display_, root_, -10, -10, 1, 1, 0, 0, 0);
  XSelectInput(display_, window_, PropertyChangeMask);

  // X event times are the server's milliseconds: a property change gives a first bound of how they
  // map to the wall clock (refined by every input event, see Drain).
  Atom stamp = XInternAtom(display_, "LUCID_TIME", False);
  XChangeProperty(display_, window_, stamp, XA_STRING, 8, PropModeReplace, nullptr, 0);
  XEvent stamped;
  XIfEvent(display_, &stamped, IsPropertyNotifyOn, reinterpret_cast<XPointer>(&window_));
  timeOffsetMs_ = NowMs() - double(stamped.xproperty.time);

  unsigned char bits[XIMaskLen(XI_LASTEVENT)] = {0};
  XIEventMask mask{XIAllMasterDevices, int(sizeof bits), bits};
  XISetMask(bits, XI_RawKeyPress);
  if (full_) XISetMask(bits, XI_RawKeyRelease);  // to know which modifiers are down
  XISetMask(bits, XI_RawButtonPress);
  XISelectEvents(display_, root_, &mask, 1);
  XFixesSelectSelectionInput(display_, root_, clipboard_, XFixesSetSelectionOwnerNotifyMask);
  XFixesSelectSelectionInput(display_, root_, primary_, XFixesSetSelectionOwnerNotifyMask);
  XSync(display_, False);
  if (connectionLost_) {
    Close();
    return "lost the X display \"" + displayName + "\" while setting up interaction events";
  }
  return "";
}

void X11Input::Close() {
  if (!display_) return;
  if (!connectionLost_) {
    if (window_) XDestroyWindow(display_, window_);
  }
  XCloseDisplay(display_);
  display_ = nullptr;
  window_ = 0;
}

double X11Input::ToEpoch(Time t, double now) const {
  double at = double(t) + timeOffsetMs_;
  // The server clock wraps every 49 days: never in the future, and an implausibly old time is taken as now.
  if (at > now || at < now - 60000) return now;
  return at;
}

X11Input::Conversion* X11Input::ConversionFor(Atom selection) {
  for (auto& c : conversions_)
    if (c.selection == selection) return &c;
  return nullptr;
}

std::string X11Input::Drain(std::vector<InputEvent>& out) {
  if (!display_) return "the interaction capture is closed";
  if (connectionLost_) return "lost the connection to the X display";
  size_t first = out.size();
  std::vector<std::pair<size_t, Time>> serverTimed;  // input events stamped with the server's clock
  while (!connectionLost_ && XPending(display_) > 0) {
    XEvent event;
    XNextEvent(display_, &event);
    if (event.type == GenericEvent && event.xcookie.extension == xiOpcode_) {
      size_t before = out.size();
      Time at = HandleRaw(event, out);
      if (out.size() > before) serverTimed.push_back({before, at});
    } else if (event.type == fixesEventBase_ + XFixesSelectionNotify) {
      auto* notify = reinterpret_cast<XFixesSelectionNotifyEvent*>(&event);
      if (notify->owner != None && notify->owner != window_) StartConversion(notify->selection, notify->selection_timestamp);
    } else if (event.type == SelectionNotify) {
      HandleSelectionNotify(event.xselection, out);
    } else if (event.type == PropertyNotify && event.xproperty.window == window_ && event.xproperty.state == PropertyNewValue) {
      for (auto& c : conversions_)
        if (c.active && c.incr && c.property == event.xproperty.atom) HandleIncrChunk(c, out);
    } else if (event.type == MappingNotify) {
      XRefreshKeyboardMapping(&event.xmapping);
    }
  }
  // The server's time of an event is its milliseconds since start-up, and the time a request sees
  // may lag (an idle server updates it lazily): the offset to the wall clock is the smallest
  // "now minus event time" seen, which is never below the true one and nears it with every event.
  double now = NowMs();
  for (auto& [index, at] : serverTimed) timeOffsetMs_ = std::min(timeOffsetMs_, now - double(at));
  for (auto& [index, at] : serverTimed) out[index].epochMs = ToEpoch(at, now);
  for (auto& c : conversions_)
    if (c.active && now > c.deadline) Finish(c, out);  // the owner never answered (or stopped mid-INCR)
  if (!connectionLost_) CheckFocus(out);
  if (connectionLost_) return "lost the connection to the X display";
  std::stable_sort(out.begin() + first, out.end(), [](const InputEvent& a, const InputEvent& b) { return a.epochMs < b.epochMs; });
  return "";
}

Time X11Input::HandleRaw(XEvent& event, std::vector<InputEvent>& out) {
  if (!XGetEventData(display_, &event.xcookie)) return 0;
  auto* raw = static_cast<XIRawEvent*>(event.xcookie.data);
  int type = event.xcookie.evtype;
  int detail = raw->detail;
  Time at = raw->time;
  XFreeEventData(display_, &event.xcookie);
  if (type == XI_RawKeyRelease) {
    if (detail >= 0 && detail < 256) down_[detail] = 0;
    return at;
  }
  if (type == XI_RawKeyPress) {
    InputEvent e(InputEvent::Kind::Key);
    if (full_ && detail >= 0 && detail < 256) {
      e.text = KeyText(detail);
      down_[detail] = 1;
    }
    out.push_back(std::move(e));
    return at;
  }
  if (type == XI_RawButtonPress) {
    if (detail >= 4 && detail <= 7) return at;  // wheel steps, not clicks
    InputEvent e(InputEvent::Kind::Click);
    e.button = detail;
    Window r, child;
    int rootX = 0, rootY = 0, winX, winY;
    unsigned int state;
    if (XQueryPointer(display_, root_, &r, &child, &rootX, &rootY, &winX, &winY, &state)) {
      e.x = rootX;
      e.y = rootY;
    }
    out.push_back(std::move(e));
  }
  return at;
}

// The text one key press types, from the keyboard map and the modifiers held: only with `full`.
std::string X11Input::KeyText(int keycode) {
  bool shift = false, command = false, level3 = false;
  for (int k = 8; k < 256; k++) {
    if (!down_[k]) continue;
    KeySym held = XkbKeycodeToKeysym(display_, KeyCode(k), 0, 0);
    if (held == XK_Shift_L || held == XK_Shift_R) shift = true;
    if (held == XK_Control_L || held == XK_Control_R || held == XK_Alt_L || held == XK_Alt_R || held == XK_Meta_L ||
        held == XK_Meta_R || held == XK_Super_L || held == XK_Super_R)
      command = true;
    if (held == XK_ISO_Level3_Shift || held == XK_Mode_switch) level3 = true;
  }
  if (command) return "";  // a shortcut, not text
  KeySym base = XkbKeycodeToKeysym(display_, KeyCode(keycode), 0, 0);
  if (base == XK_Return || base == XK_KP_Enter) return "\n";
  if (base == XK_Tab) return "\t";
  XkbStateRec state{};
  bool caps = XkbGetState(display_, XkbUseCoreKbd, &state) == Success && (state.locked_mods & LockMask);
  KeySym lower, upper;
  XConvertCase(base, &lower, &upper);
  bool letter = lower != upper;
  int level = ((shift != (caps && letter)) ? 1 : 0) + (level3 ? 2 : 0);
  KeySym sym = XkbKeycodeToKeysym(display_, KeyCode(keycode), 0, level);
  if (sym == NoSymbol) sym = base;
  char utf8[16] = {0};
  int n = xkb_keysym_to_utf8(uint32_t(sym), utf8, sizeof utf8);
  if (n <= 1) return "";
  if (static_cast<unsigned char>(utf8[0]) < 0x20 || utf8[0] == 0x7f) return "";  // BackSpace, Escape, Delete
  return std::string(utf8, size_t(n - 1));
}

void X11Input::StartConversion(Atom selection, Time when) {
  Conversion* c = ConversionFor(selection);
  if (!c) return;
  // A newer owner supersedes a conversion still running: its answer is ignored by its time.
  c->active = true;
  c->incr = false;
  c->requested = when;
  c->epochMs = NowMs();  // the owner's own time may be CurrentTime: taken when we learn of it
  c->deadline = NowMs() + kSelectionTimeoutMs;
  c->bytes = 0;
  c->text.clear();
  XDeleteProperty(display_, window_, c->property);
  XConvertSelection(display_, selection, utf8_, c->property, window_, when);
  XFlush(display_);
}

void X11Input::HandleSelectionNotify(const XSelectionEvent& event, std::vector<InputEvent>& out) {
  Conversion* c = ConversionFor(event.selection);
  if (!c || !c->active || c->incr || event.time != c->requested) return;
  if (event.property == None) return Finish(*c, out);  // the owner has no text (an image, files)
  Atom type;
  int format;
  unsigned long items, after;
  unsigned char* data = nullptr;
  if (XGetWindowProperty(display_, window_, c->property, 0, 0, False, AnyPropertyType, &type, &format, &items, &after,
                         &data) != Success)
    return Finish(*c, out);
  if (data) XFree(data);
  if (type == incr_) {
    // A big selection comes in pieces: deleting the property asks for the next one.
    c->incr = true;
    c->deadline = NowMs() + kSelectionTimeoutMs;
    XDeleteProperty(display_, window_, c->property);
    XFlush(display_);
    return;
  }
  bool empty;
  ReadInto(*c, empty);
  Finish(*c, out);
}

void X11Input::HandleIncrChunk(Conversion& c, std::vector<InputEvent>& out) {
  bool empty = true;
  if (!ReadInto(c, empty) || empty) return Finish(c, out);
  c.deadline = NowMs() + kSelectionTimeoutMs;
}

bool X11Input::ReadInto(Conversion& c, bool& empty) {
  Atom type;
  int format;
  unsigned long items, after;
  unsigned char* data = nullptr;
  empty = true;
  if (XGetWindowProperty(display_, window_, c.property, 0, 0, False, AnyPropertyType, &type, &format, &items, &after,
                         &data) != Success)
    return false;
  if (data) XFree(data);
  data = nullptr;
  if (type == None) return false;
  empty = after == 0;
  c.bytes += double(after);
  if (full_ && after > 0 && c.text.size() < kClipboardTextCap) {
    size_t want = std::min<size_t>(after, kClipboardTextCap - c.text.size());
    if (XGetWindowProperty(display_, window_, c.property, 0, long((want + 3) / 4), False, AnyPropertyType, &type, &format,
                           &items, &after, &data) == Success &&
        data && format == 8) {
      c.text.append(reinterpret_cast<const char*>(data), std::min<size_t>(items, want));
    }
    if (data) XFree(data);
  }
  XDeleteProperty(display_, window_, c.property);  // in an INCR transfer, asks for the next piece
  XFlush(display_);
  return true;
}

void X11Input::Finish(Conversion& c, std::vector<InputEvent>& out) {
  c.active = false;
  c.incr = false;
  InputEvent e(InputEvent::Kind::Clipboard);
  e.epochMs = c.epochMs;
  e.selection = c.selection == clipboard_ ? "CLIPBOARD" : "PRIMARY";
  e.bytes = c.bytes;
  if (full_) {
    TrimUtf8(c.text, kClipboardTextCap);
    e.hasText = true;
    e.clipText = std::move(c.text);
  }
  c.text.clear();
  out.push_back(std::move(e));
}

bool X11Input::HasProperty(Window w, Atom property) {
  Atom type = None;
  int format;
  unsigned long items, after;
  unsigned char* data = nullptr;
  if (XGetWindowProperty(display_, w, property, 0, 0, False, AnyPropertyType, &type, &format, &items, &after, &data) !=
      Success)
    return false;
  if (data) XFree(data);
  return type != None;
}

// The top-level window in front: the window manager's _NET_ACTIVE_WINDOW where one sets it, else
// the input focus walked up to its child of the root (with no window manager, focus often follows
// the pointer: then the top-level under it).
Window X11Input::FocusedTopLevel() {
  Atom type = None;
  int format;
  unsigned long items, after;
  unsigned char* data = nullptr;
  if (XGetWindowProperty(display_, root_, netActive_, 0, 1, False, XA_WINDOW, &type, &format, &items, &after, &data) ==
          Success &&
      type == XA_WINDOW && format == 32 && items == 1) {
    Window active = *reinterpret_cast<unsigned long*>(data);
    XFree(data);
    return active;
  }
  if (data) XFree(data);
  Window focus = None;
  int revert;
  XGetInputFocus(display_, &focus, &revert);
  if (focus == None || focus == root_) return 0;
  if (focus == PointerRoot) {
    Window r, child = 0;
    int rx, ry, wx, wy;
    unsigned int state;
    if (!XQueryPointer(display_, root_, &r, &child, &rx, &ry, &wx, &wy, &state)) return 0;
    return child;
  }
  Window w = focus;
  for (int depth = 0; depth < 64; depth++) {
    Window r = 0, parent = 0, *children = nullptr;
    unsigned int n = 0;
    if (!XQueryTree(display_, w, &r, &parent, &children, &n)) return 0;
    if (children) XFree(children);
    if (parent == root_ || parent == 0) return w;
    w = parent;
  }
  return 0;
}

// A window manager's frame holds the application's window: the one with WM_STATE below it.
Window X11Input::ClientOf(Window top) {
  if (HasProperty(top, wmState_)) return top;
  std::deque<std::pair<Window, int>> queue{{top, 0}};
  while (!queue.empty()) {
    auto [w, depth] = queue.front();
    queue.pop_front();
    if (depth > 0 && HasProperty(w, wmState_)) return w;
    if (depth >= 3) continue;
    Window r, parent, *children = nullptr;
    unsigned int n = 0;
    if (!XQueryTree(display_, w, &r, &parent, &children, &n)) continue;
    for (unsigned int i = 0; i < n && i < 64; i++) queue.push_back({children[i], depth + 1});
    if (children) XFree(children);
  }
  return top;
}

std::string X11Input::TitleOf(Window w) {
  Atom type = None;
  int format;
  unsigned long items, after;
  unsigned char* data = nullptr;
  std::string title;
  if (XGetWindowProperty(display_, w, netWmName_, 0, kTitleCap / 4, False, utf8_, &type, &format, &items, &after, &data) ==
          Success &&
      type == utf8_ && format == 8 && data) {
    title.assign(reinterpret_cast<const char*>(data), items);
    XFree(data);
    return title;
  }
  if (data) XFree(data);
  XTextProperty text{};
  if (!XGetWMName(display_, w, &text) || !text.value) return "";
  if (text.encoding == XA_STRING && text.format == 8) {
    title = Latin1ToUtf8(text.value, text.nitems);
  } else if (text.encoding == utf8_ && text.format == 8) {
    title.assign(reinterpret_cast<const char*>(text.value), text.nitems);
  } else {
    char** list = nullptr;
    int count = 0;
    if (Xutf8TextPropertyToTextList(display_, &text, &list, &count) >= Success && list) {
      if (count > 0 && list[0]) title = list[0];
      XFreeStringList(list);
    }
  }
  XFree(text.value);
  TrimUtf8(title, kTitleCap);
  return title;
}

std::string X11Input::ClassOf(Window w) {
  XClassHint hint{};
  if (!XGetClassHint(display_, w, &hint)) return "";
  std::string klass = hint.res_class ? hint.res_class : "";
  if (hint.res_name) XFree(hint.res_name);
  if (hint.res_class) XFree(hint.res_class);
  TrimUtf8(klass, 256);
  return klass;
}

void X11Input::CheckFocus(std::vector<InputEvent>& out) {
  Window top = FocusedTopLevel();
  // The search below a frame costs round trips: done once each time another top-level comes to the front.
  if (top != clientOfTop_.first) clientOfTop_ = {top, top ? ClientOf(top) : 0};
  Window client = clientOfTop_.second;
  std::string title = client ? TitleOf(client) : "";
  std::string klass = client ? ClassOf(client) : "";
  if (connectionLost_) return;
  if (!focusKnown_ && client == 0) {
    focusKnown_ = true;
    return;
  }
  if (focusKnown_ && client == lastFocus_ && title == lastTitle_ && klass == lastClass_) return;
  focusKnown_ = true;
  lastFocus_ = client;
  lastTitle_ = title;
  lastClass_ = klass;
  InputEvent e(InputEvent::Kind::Focus);
  e.epochMs = NowMs();
  e.title = std::move(title);
  e.klass = std::move(klass);
  out.push_back(std::move(e));
}

}  // namespace lucid
