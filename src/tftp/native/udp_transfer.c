// The hot path of a TFTP transfer socket: one non-blocking UDP socket per transfer, watched by
// the calling thread's libuv loop. Node's dgram turns every datagram into a Buffer, an address
// object and an event, which doubled kickstand's CPU per block against tftpd-hpa (see
// docs/BENCHMARKS.md). Here an ACK from the transfer's peer reaches JavaScript as one number,
// and DATA leaves with one sendmsg() of header + payload, no copy. Everything else (strangers,
// errors, malformed packets) is handed to JavaScript as bytes + address, as dgram would.
// Linux/BSD sockets only; no TFTP logic lives here.
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Largest datagram read; TFTP requests and ACKs are far smaller, anything longer is truncated.
#define MAX_DATAGRAM 2048
// Datagrams read per readiness event before yielding to the loop, so one busy peer cannot starve others.
#define READS_PER_EVENT 64

typedef struct {
  uv_poll_t poll;
  int fd;
  int closed;     // close() was called: no more reads, sends fail with EBADF
  int fd_closed;  // libuv has let go of the handle and the descriptor is closed
  int collected;  // the JavaScript handle was garbage-collected: free once fd_closed
  int no_gso;     // the kernel or the device refused UDP_SEGMENT once: send windows datagram by datagram
  // Lets a worker thread (or the process) that exits with this socket open wait for its close,
  // instead of aborting on a libuv loop that still holds the handle.
  napi_async_cleanup_hook_handle cleanup_hook;
  napi_env env;
  napi_ref on_ack;
  napi_ref on_datagram;
  napi_async_context async_context;
  struct sockaddr_storage peer;
  socklen_t peer_len;
} transfer_socket;

static napi_value throw_errno(napi_env env, const char* what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

#define CALL(call)                                                  \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      const napi_extended_error_info* info;                         \
      napi_get_last_error_info(env, &info);                         \
      bool pending = false;                                         \
      napi_is_exception_pending(env, &pending);                     \
      if (!pending) napi_throw_error(env, NULL, info->error_message ? info->error_message : #call); \
      return NULL;                                                  \
    }                                                               \
  } while (0)

static int parse_address(const char* text, unsigned port, struct sockaddr_storage* out, socklen_t* len) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in* v4 = (struct sockaddr_in*)out;
  struct sockaddr_in6* v6 = (struct sockaddr_in6*)out;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return 0;
  }
  return -1;
}

static unsigned port_of(const struct sockaddr_storage* address) {
  return address->ss_family == AF_INET ? ntohs(((const struct sockaddr_in*)address)->sin_port)
                                       : ntohs(((const struct sockaddr_in6*)address)->sin6_port);
}

static int is_peer(const transfer_socket* socket, const struct sockaddr_storage* from) {
  if (from->ss_family != socket->peer.ss_family) return 0;
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)from;
    const struct sockaddr_in* b = (const struct sockaddr_in*)&socket->peer;
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  const struct sockaddr_in6* a = (const struct sockaddr_in6*)from;
  const struct sockaddr_in6* b = (const struct sockaddr_in6*)&socket->peer;
  return a->sin6_port == b->sin6_port && memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
}

/** Calls a JavaScript callback as a libuv event would: async context kept, microtasks run after. */
static void deliver(transfer_socket* socket, napi_ref callback, size_t argc, napi_value* argv) {
  napi_env env = socket->env;
  napi_value receiver, function, result;
  napi_get_global(env, &receiver);  // MakeCallback wants an object as `this`
  napi_get_reference_value(env, callback, &function);
  if (napi_make_callback(env, socket->async_context, receiver, function, argc, argv, &result) != napi_ok) {
    // A throwing callback is a bug in kickstand: report it the way an event handler's would be.
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
}

static void on_readable(uv_poll_t* handle, int status, int events) {
  transfer_socket* socket = (transfer_socket*)handle->data;
  napi_env env = socket->env;
  unsigned char bytes[MAX_DATAGRAM];
  for (int i = 0; i < READS_PER_EVENT && !socket->closed; i++) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(socket->fd, bytes, sizeof bytes, 0, (struct sockaddr*)&from, &from_len);
    if (n < 0) break;  // EAGAIN: drained. Other errors (ICMP reports) are of no use to a sender that times out anyway.
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    if (n == 4 && bytes[0] == 0 && bytes[1] == 4 && is_peer(socket, &from)) {
      napi_value block;
      napi_create_uint32(env, ((unsigned)bytes[2] << 8) | bytes[3], &block);
      deliver(socket, socket->on_ack, 1, &block);
    } else {
      char address[INET6_ADDRSTRLEN] = "";
      const void* raw = from.ss_family == AF_INET ? (const void*)&((struct sockaddr_in*)&from)->sin_addr
                                                  : (const void*)&((struct sockaddr_in6*)&from)->sin6_addr;
      inet_ntop(from.ss_family, raw, address, sizeof address);
      napi_value argv[3];
      void* copy;
      napi_create_buffer_copy(env, (size_t)n, bytes, &copy, &argv[0]);
      napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &argv[1]);
      napi_create_uint32(env, port_of(&from), &argv[2]);
      deliver(socket, socket->on_datagram, 3, argv);
    }
    napi_close_handle_scope(env, scope);
  }
}

static void on_collected(napi_env env, void* data, void* hint);
static void on_environment_cleanup(napi_async_cleanup_hook_handle hook, void* data);

static transfer_socket* unwrap(napi_env env, napi_value value) {
  void* pointer = NULL;
  if (napi_get_value_external(env, value, &pointer) != napi_ok || pointer == NULL) {
    napi_throw_type_error(env, NULL, "not a transfer socket");
    return NULL;
  }
  return (transfer_socket*)pointer;
}

static int buffer_of(napi_env env, napi_value value, struct iovec* iov) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return -1;
  return napi_get_buffer_info(env, value, &iov->iov_base, &iov->iov_len) == napi_ok ? 0 : -1;
}

// open(bindAddress, peerAddress, peerPort, onAck(block), onDatagram(bytes, address, port)) -> [socket, localPort]
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "open(bindAddress, peerAddress, peerPort, onAck, onDatagram)");
    return NULL;
  }
  char bind_text[INET6_ADDRSTRLEN + 1], peer_text[INET6_ADDRSTRLEN + 1];
  size_t length;
  uint32_t peer_port;
  CALL(napi_get_value_string_utf8(env, argv[0], bind_text, sizeof bind_text, &length));
  CALL(napi_get_value_string_utf8(env, argv[1], peer_text, sizeof peer_text, &length));
  CALL(napi_get_value_uint32(env, argv[2], &peer_port));

  struct sockaddr_storage local;
  socklen_t local_len;
  transfer_socket* socket_state = calloc(1, sizeof *socket_state);
  if (socket_state == NULL) return throw_errno(env, "transfer socket", ENOMEM);
  if (parse_address(bind_text, 0, &local, &local_len) != 0 ||
      parse_address(peer_text, peer_port, &socket_state->peer, &socket_state->peer_len) != 0) {
    free(socket_state);
    napi_throw_type_error(env, NULL, "bindAddress and peerAddress must be IP literals");
    return NULL;
  }
  int fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&local, local_len) != 0 || getsockname(fd, (struct sockaddr*)&local, &local_len) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    free(socket_state);
    return throw_errno(env, "cannot bind a TFTP transfer socket", err);
  }
  socket_state->fd = fd;
  socket_state->env = env;
  napi_value resource_name, handle, port, result;
  CALL(napi_create_string_utf8(env, "kickstand:tftp-transfer", NAPI_AUTO_LENGTH, &resource_name));
  CALL(napi_async_init(env, NULL, resource_name, &socket_state->async_context));
  CALL(napi_create_reference(env, argv[3], 1, &socket_state->on_ack));
  CALL(napi_create_reference(env, argv[4], 1, &socket_state->on_datagram));
  uv_loop_t* loop;
  CALL(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &socket_state->poll, fd);
  socket_state->poll.data = socket_state;
  uv_poll_start(&socket_state->poll, UV_READABLE, on_readable);
  CALL(napi_add_async_cleanup_hook(env, on_environment_cleanup, socket_state, &socket_state->cleanup_hook));
  CALL(napi_create_external(env, socket_state, on_collected, NULL, &handle));
  CALL(napi_create_uint32(env, port_of(&local), &port));
  CALL(napi_create_array_with_length(env, 2, &result));
  CALL(napi_set_element(env, result, 0, handle));
  CALL(napi_set_element(env, result, 1, port));
  return result;
}

static napi_value send_result(napi_env env, ssize_t sent) {
  napi_value result;
  napi_create_int32(env, sent < 0 ? errno : 0, &result);
  return result;
}

// send(socket, header, payload?) -> 0 or an errno: one datagram to the peer, the buffers gathered.
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  transfer_socket* socket_state = argc > 0 ? unwrap(env, argv[0]) : NULL;
  if (socket_state == NULL) return NULL;
  struct iovec iov[2];
  int count = 0;
  for (size_t i = 1; i < argc && i < 3; i++) {
    if (buffer_of(env, argv[i], &iov[count]) != 0) {
      napi_throw_type_error(env, NULL, "send() takes Buffers");
      return NULL;
    }
    count++;
  }
  if (socket_state->closed) return send_result(env, (errno = EBADF, -1));
  struct msghdr message = {0};
  message.msg_name = &socket_state->peer;
  message.msg_namelen = socket_state->peer_len;
  message.msg_iov = iov;
  message.msg_iovlen = count;
  return send_result(env, sendmsg(socket_state->fd, &message, 0));
}

// UDP GSO: a whole window goes down the send path as one buffer the kernel (or the NIC) cuts into
// datagrams of gso_size bytes, the last one possibly shorter. Linux caps segments per call.
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

static __thread unsigned char window_buffer[GSO_MAX_BYTES];

static ssize_t send_gso(transfer_socket* socket_state, size_t length, uint16_t segment_size) {
  struct iovec iov = {window_buffer, length};
  char control[CMSG_SPACE(sizeof(uint16_t))] = {0};
  struct msghdr message = {0};
  message.msg_name = &socket_state->peer;
  message.msg_namelen = socket_state->peer_len;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  cmsg->cmsg_level = SOL_UDP;
  cmsg->cmsg_type = UDP_SEGMENT;
  cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  memcpy(CMSG_DATA(cmsg), &segment_size, sizeof segment_size);
  return sendmsg(socket_state->fd, &message, 0);
}

static ssize_t send_one(transfer_socket* socket_state, struct iovec* iov, int count) {
  struct msghdr message = {0};
  message.msg_name = &socket_state->peer;
  message.msg_namelen = socket_state->peer_len;
  message.msg_iov = iov;
  message.msg_iovlen = count;
  return sendmsg(socket_state->fd, &message, 0);
}

/**
 * Sends the batched segments: one GSO call, or, when the kernel or the device refuses GSO (no
 * UDP_SEGMENT, no checksum offload, a segment above the path MTU), one datagram per segment
 * from now on. Returns -1 with errno set only for errors a per-datagram send would also have.
 */
static int flush_window(transfer_socket* socket_state, size_t used, size_t segment_size) {
  if (used == 0) return 0;
  if (!socket_state->no_gso) {
    if (send_gso(socket_state, used, (uint16_t)segment_size) >= 0) return 0;
    if (errno != EIO && errno != EINVAL && errno != EMSGSIZE && errno != ENOPROTOOPT && errno != EOPNOTSUPP) return -1;
    socket_state->no_gso = 1;
  }
  for (size_t offset = 0; offset < used; offset += segment_size) {
    struct iovec iov = {window_buffer + offset, used - offset < segment_size ? used - offset : segment_size};
    if (send_one(socket_state, &iov, 1) < 0) return -1;
  }
  return 0;
}

// sendWindow(socket, [header1, payload1, header2, payload2, ...]) -> 0 or an errno: the DATA packets
// of one window, all of one size but the last. They are copied into one buffer and sent with GSO
// (a memcpy is far cheaper than a trip down the network stack per datagram).
static napi_value js_send_window(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  transfer_socket* socket_state = argc == 2 ? unwrap(env, argv[0]) : NULL;
  if (socket_state == NULL) return NULL;
  uint32_t length = 0;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &length) != napi_ok || length % 2 != 0) {
    napi_throw_type_error(env, NULL, "sendWindow() takes an array of header, payload Buffer pairs");
    return NULL;
  }
  if (socket_state->closed) return send_result(env, (errno = EBADF, -1));
  size_t used = 0, segment_size = 0;
  uint32_t segments = 0;
  for (uint32_t i = 0; i < length / 2; i++) {
    struct iovec iov[2];
    for (uint32_t part = 0; part < 2; part++) {
      napi_value element;
      CALL(napi_get_element(env, argv[1], 2 * i + part, &element));
      if (buffer_of(env, element, &iov[part]) != 0) {
        napi_throw_type_error(env, NULL, "sendWindow() takes Buffers");
        return NULL;
      }
    }
    size_t size = iov[0].iov_len + iov[1].iov_len;
    if (size > GSO_MAX_BYTES) {  // a blksize only loopback allows: no batching
      if (flush_window(socket_state, used, segment_size) < 0 || send_one(socket_state, iov, 2) < 0) return send_result(env, -1);
      used = 0;
      segments = 0;
      continue;
    }
    // Only the last segment of a GSO send may be shorter than the first.
    if (segments > 0 && (size > segment_size || used + size > GSO_MAX_BYTES || segments == GSO_MAX_SEGMENTS)) {
      if (flush_window(socket_state, used, segment_size) < 0) return send_result(env, -1);
      used = 0;
      segments = 0;
    }
    if (segments == 0) segment_size = size;
    memcpy(window_buffer + used, iov[0].iov_base, iov[0].iov_len);
    memcpy(window_buffer + used + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
    used += size;
    segments++;
    if (size < segment_size) {
      if (flush_window(socket_state, used, segment_size) < 0) return send_result(env, -1);
      used = 0;
      segments = 0;
    }
  }
  return send_result(env, flush_window(socket_state, used, segment_size));
}

// sendTo(socket, bytes, address, port) -> 0 or an errno: a datagram to someone else (ERROR 5 to a stranger).
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  transfer_socket* socket_state = argc == 4 ? unwrap(env, argv[0]) : NULL;
  if (socket_state == NULL) return NULL;
  struct iovec iov;
  char address_text[INET6_ADDRSTRLEN + 1];
  size_t length;
  uint32_t port;
  if (buffer_of(env, argv[1], &iov) != 0) {
    napi_throw_type_error(env, NULL, "sendTo() takes a Buffer");
    return NULL;
  }
  CALL(napi_get_value_string_utf8(env, argv[2], address_text, sizeof address_text, &length));
  CALL(napi_get_value_uint32(env, argv[3], &port));
  struct sockaddr_storage to;
  socklen_t to_len;
  if (parse_address(address_text, port, &to, &to_len) != 0) {
    napi_throw_type_error(env, NULL, "sendTo() needs an IP literal");
    return NULL;
  }
  if (socket_state->closed) return send_result(env, (errno = EBADF, -1));
  return send_result(env, sendto(socket_state->fd, iov.iov_base, iov.iov_len, 0, (struct sockaddr*)&to, to_len));
}

static void on_closed(uv_handle_t* handle) {
  transfer_socket* socket_state = (transfer_socket*)handle->data;
  close(socket_state->fd);
  socket_state->fd_closed = 1;
  napi_remove_async_cleanup_hook(socket_state->cleanup_hook);
  if (socket_state->collected) free(socket_state);
}

/** Stops watching and lets go of the callbacks; the descriptor closes once libuv is done with it. */
static void close_socket(napi_env env, transfer_socket* socket_state) {
  if (socket_state->closed) return;
  socket_state->closed = 1;
  napi_delete_reference(env, socket_state->on_ack);
  napi_delete_reference(env, socket_state->on_datagram);
  napi_async_destroy(env, socket_state->async_context);
  uv_poll_stop(&socket_state->poll);
  uv_close((uv_handle_t*)&socket_state->poll, on_closed);
}

/** The thread's environment is shutting down with this socket open: close it; on_closed lets it go on. */
static void on_environment_cleanup(napi_async_cleanup_hook_handle hook, void* data) {
  transfer_socket* socket_state = (transfer_socket*)data;
  close_socket(socket_state->env, socket_state);
}

/** The struct outlives close() until its JavaScript handle is collected, so a late call never touches freed memory. */
static void on_collected(napi_env env, void* data, void* hint) {
  transfer_socket* socket_state = (transfer_socket*)data;
  socket_state->collected = 1;
  close_socket(env, socket_state);  // a handle dropped without close() must not leave the socket watched
  if (socket_state->fd_closed) free(socket_state);
}

// close(socket): idempotent.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  transfer_socket* socket_state = argc == 1 ? unwrap(env, argv[0]) : NULL;
  if (socket_state != NULL) close_socket(env, socket_state);
  return NULL;
}

NAPI_MODULE_INIT() {
  const struct { const char* name; napi_callback callback; } functions[] = {
    {"open", js_open}, {"send", js_send}, {"sendWindow", js_send_window}, {"sendTo", js_send_to}, {"close", js_close},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value function;
    napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].callback, NULL, &function);
    napi_set_named_property(env, exports, functions[i].name, function);
  }
  return exports;
}
