// The hot path of a TFTP transfer socket: one non-blocking UDP socket per transfer, watched by
// the calling thread's libuv loop. Node's dgram turns every datagram into a Buffer, an address
// object and an event, which doubled kickstand's CPU per block against tftpd-hpa (see
// docs/BENCHMARKS.md).
//
// The DATA phase runs here as a "data pump": JavaScript starts it with the file's size, blksize
// and windowsize, and from then on an ACK from the peer that moves the window forward is answered
// with the next window in C, without a trip into JavaScript (which cost a lock-step transfer
// ~15 µs per block of latency). Everything that is a decision stays in JavaScript
// (src/tftp/transfer.ts): options and the OACK, when to retransmit and when to give up, errors,
// the outcome. JavaScript hears from the pump when the last block is acknowledged, when it needs
// more of the file, and when a send fails; it asks for the progress when its timer fires.
// Everything else that arrives (strangers, ERROR, malformed packets) is handed to JavaScript as
// bytes + address, as dgram would.
//
// The same socket type is TFTP's listener (listen()): a socket with no peer, so every datagram
// goes to JavaScript, together with the local address it was sent to (IP_PKTINFO /
// IPV6_RECVPKTINFO). A listener on the wildcard address then answers each request from the
// address the client asked, as tftpd-hpa and dnsmasq do: on a multi-homed server or behind a
// VIP the kernel's own choice of source can differ, and UEFI's TFTP client drops such replies.
// Linux sockets only.
#define _GNU_SOURCE  // struct in6_pktinfo (before any system header)
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

/** The DATA phase of one read transfer; blocks are absolute (1..total_blocks), the wire has them modulo 65536. */
typedef struct {
  int started;  // startPump() was called (once per socket)
  uint32_t blksize;
  uint32_t windowsize;
  uint64_t size;  // bytes in the file
  uint64_t total_blocks;  // a file of exactly N blocks still ends with an empty block
  uint64_t acked;  // highest block the peer acknowledged
  uint64_t sent_up_to;  // highest block of the window last sent
  uint64_t window_sent_at;  // loop time (ms) the current window last left
  // The part of the file JavaScript handed over last (the whole file when it is in memory).
  napi_ref chunk_ref;
  const unsigned char* chunk;
  uint64_t chunk_start;
  size_t chunk_len;
  napi_ref bytes_from;  // (offset, length) -> Buffer holding at least length bytes from offset
  napi_ref on_done;  // () : the last block was acknowledged
  napi_ref on_send_error;  // (errno) : JavaScript decides whether the transfer survives it
} data_pump;

typedef struct {
  uv_poll_t poll;
  int fd;
  int closed;     // close() was called: no more reads, sends fail with EBADF
  int fd_closed;  // libuv has let go of the handle (the descriptor was closed by close())
  int collected;  // the JavaScript handle was garbage-collected: free once fd_closed
  int no_gso;     // the kernel or the device refused UDP_SEGMENT once: send windows datagram by datagram
  int listener;   // a listener: no peer, datagrams are delivered with the local address they were sent to
  int family;     // AF_INET or AF_INET6, the socket's own
  // Lets a worker thread (or the process) that exits with this socket open wait for its close,
  // instead of aborting on a libuv loop that still holds the handle.
  napi_async_cleanup_hook_handle cleanup_hook;
  napi_env env;
  uv_loop_t* loop;
  data_pump pump;
  napi_ref on_ack;
  napi_ref on_datagram;
  napi_async_context async_context;
  struct sockaddr_storage peer;
  socklen_t peer_len;
} transfer_socket;

/** Throws an Error whose code is the errno's name (EADDRINUSE, EACCES...), as Node's own socket errors carry. */
static napi_value throw_errno(napi_env env, const char* what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, uv_err_name(uv_translate_sys_error(err)), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_throw(env, error);
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

/** An address as text; an IPv4 address on an IPv6 socket is written v4-mapped, as the kernel reports peers there. */
static void address_text(int socket_family, int family, const void* raw, char* out, size_t size) {
  if (family == AF_INET && socket_family == AF_INET6) {
    char v4[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, raw, v4, sizeof v4);
    snprintf(out, size, "::ffff:%s", v4);
    return;
  }
  inet_ntop(family, raw, out, size);
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

static int buffer_of(napi_env env, napi_value value, struct iovec* iov) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return -1;
  return napi_get_buffer_info(env, value, &iov->iov_base, &iov->iov_len) == napi_ok ? 0 : -1;
}

/**
 * Calls a JavaScript callback as a libuv event would: async context kept, microtasks run after.
 * Returns its result, or NULL when it threw (reported as an event handler's exception would be).
 */
static napi_value deliver(transfer_socket* socket, napi_ref callback, size_t argc, napi_value* argv) {
  napi_env env = socket->env;
  napi_value receiver, function, result;
  napi_get_global(env, &receiver);  // MakeCallback wants an object as `this`
  napi_get_reference_value(env, callback, &function);
  if (napi_make_callback(env, socket->async_context, receiver, function, argc, argv, &result) == napi_ok) return result;
  // A throwing callback is a bug in kickstand: report it the way an event handler's would be.
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  return NULL;
}

/** A message to the transfer's peer carrying these buffers. */
static struct msghdr to_peer(transfer_socket* socket_state, struct iovec* iov, int count) {
  struct msghdr message = {0};
  message.msg_name = &socket_state->peer;
  message.msg_namelen = socket_state->peer_len;
  message.msg_iov = iov;
  message.msg_iovlen = count;
  return message;
}

static ssize_t send_one(transfer_socket* socket_state, struct iovec* iov, int count) {
  struct msghdr message = to_peer(socket_state, iov, count);
  return sendmsg(socket_state->fd, &message, 0);
}

// UDP GSO: a whole window goes down the send path as one buffer the kernel (or the NIC) cuts into
// datagrams of gso_size bytes, the last one possibly shorter. Linux caps segments per call.
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

static __thread unsigned char window_buffer[GSO_MAX_BYTES];

static ssize_t send_gso(transfer_socket* socket_state, size_t length, uint16_t segment_size) {
  struct iovec iov = {window_buffer, length};
  char control[CMSG_SPACE(sizeof(uint16_t))] = {0};
  struct msghdr message = to_peer(socket_state, &iov, 1);
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  cmsg->cmsg_level = SOL_UDP;
  cmsg->cmsg_type = UDP_SEGMENT;
  cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  memcpy(CMSG_DATA(cmsg), &segment_size, sizeof segment_size);
  return sendmsg(socket_state->fd, &message, 0);
}

/** DATA packets gathered into window_buffer, to leave in as few system calls as GSO allows. */
typedef struct {
  transfer_socket* socket;
  size_t used;
  size_t segment_size;
  uint32_t segments;
} window_batch;

/**
 * Sends the gathered packets: one datagram as it is, several with one GSO call or, when the kernel
 * or the device refuses GSO (no UDP_SEGMENT, no checksum offload, a segment above the path MTU),
 * one datagram per segment from now on. Returns -1 with errno set only for errors a
 * per-datagram send would also have.
 */
static int batch_flush(window_batch* batch) {
  transfer_socket* socket_state = batch->socket;
  size_t used = batch->used, segment_size = batch->segment_size;
  uint32_t segments = batch->segments;
  batch->used = 0;
  batch->segments = 0;
  if (segments == 0) return 0;
  if (segments > 1 && !socket_state->no_gso) {
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

/** Adds one DATA packet (header + payload); packets of a batch are all of one size but the last. */
static int batch_add(window_batch* batch, const unsigned char* header, size_t header_len, const unsigned char* payload, size_t payload_len) {
  size_t size = header_len + payload_len;
  if (size > GSO_MAX_BYTES) {  // a blksize only loopback allows: no batching
    struct iovec iov[2] = {{(void*)header, header_len}, {(void*)payload, payload_len}};
    if (batch_flush(batch) < 0 || send_one(batch->socket, iov, 2) < 0) return -1;
    return 0;
  }
  // Only the last segment of a GSO send may be shorter than the first.
  if (batch->segments > 0 && (size > batch->segment_size || batch->used + size > GSO_MAX_BYTES || batch->segments == GSO_MAX_SEGMENTS)) {
    if (batch_flush(batch) < 0) return -1;
  }
  if (batch->segments == 0) batch->segment_size = size;
  memcpy(window_buffer + batch->used, header, header_len);
  if (payload_len > 0) memcpy(window_buffer + batch->used + header_len, payload, payload_len);  // an empty file has no chunk
  batch->used += size;
  batch->segments++;
  return size < batch->segment_size ? batch_flush(batch) : 0;
}

/** Whether ACKs from the peer are the pump's: started, not closed, last block not yet acknowledged. */
static int pumping(const transfer_socket* socket_state) {
  return socket_state->pump.started && !socket_state->closed && socket_state->pump.acked < socket_state->pump.total_blocks;
}

static void pump_send_error(transfer_socket* socket_state, int err) {
  napi_value code;
  napi_create_int32(socket_state->env, err, &code);
  deliver(socket_state, socket_state->pump.on_send_error, 1, &code);
}

/** Makes the pump's chunk cover [offset, offset + length) by asking JavaScript; 0 when the transfer ended meanwhile. */
static int pump_fetch(transfer_socket* socket_state, uint64_t offset, size_t length) {
  data_pump* pump = &socket_state->pump;
  napi_env env = socket_state->env;
  napi_value argv[2];
  napi_create_double(env, (double)offset, &argv[0]);
  napi_create_uint32(env, (uint32_t)length, &argv[1]);
  napi_value bytes = deliver(socket_state, pump->bytes_from, 2, argv);
  if (socket_state->closed) return 0;  // JavaScript ended the transfer (the file could not be read)
  struct iovec iov;
  if (bytes == NULL || buffer_of(env, bytes, &iov) != 0 || iov.iov_len < length) {
    pump_send_error(socket_state, EIO);  // a bug on the JavaScript side: fewer bytes than the file has
    return 0;
  }
  napi_ref chunk_ref;
  if (napi_create_reference(env, bytes, 1, &chunk_ref) != napi_ok) {
    pump_send_error(socket_state, ENOMEM);
    return 0;
  }
  if (pump->chunk_ref != NULL) napi_delete_reference(env, pump->chunk_ref);
  pump->chunk_ref = chunk_ref;
  pump->chunk = iov.iov_base;
  pump->chunk_start = offset;
  pump->chunk_len = iov.iov_len;
  return 1;
}

/** Sends blocks acked+1 .. acked+windowsize (fewer at the end of the file). */
static void pump_send_window(transfer_socket* socket_state) {
  data_pump* pump = &socket_state->pump;
  uint64_t last = pump->acked + pump->windowsize;
  if (last > pump->total_blocks) last = pump->total_blocks;
  pump->sent_up_to = last;
  pump->window_sent_at = uv_now(socket_state->loop);
  window_batch batch = {socket_state, 0, 0, 0};
  for (uint64_t block = pump->acked + 1; block <= last; block++) {
    uint64_t offset = (block - 1) * pump->blksize;
    size_t length = pump->size - offset < pump->blksize ? (size_t)(pump->size - offset) : pump->blksize;
    if (offset < pump->chunk_start || offset + length > pump->chunk_start + pump->chunk_len) {
      // JavaScript runs next (and may run other transfers' sends through window_buffer): send
      // what is gathered first, so the buffer is empty whenever JavaScript runs.
      if (batch_flush(&batch) < 0) return pump_send_error(socket_state, errno);
      if (!pump_fetch(socket_state, offset, length)) return;
    }
    unsigned char header[4] = {0, 3, (unsigned char)(block >> 8), (unsigned char)block};
    if (batch_add(&batch, header, sizeof header, pump->chunk + (offset - pump->chunk_start), length) < 0) return pump_send_error(socket_state, errno);
  }
  if (batch_flush(&batch) < 0) return pump_send_error(socket_state, errno);
  pump->window_sent_at = uv_now(socket_state->loop);  // again: a chunk read may have taken a while
}

/** An ACK from the peer while pumping; `block` is the 16-bit wire number. */
static void pump_ack(transfer_socket* socket_state, unsigned block) {
  data_pump* pump = &socket_state->pump;
  // How far past the last acknowledged block this ACK reaches, modulo the 16-bit wrap.
  uint64_t advance = (block - (unsigned)(pump->acked & 0xffff)) & 0xffff;
  // 0: a duplicate ACK. Resending on it would double every later packet (the Sorcerer's
  // Apprentice bug, RFC 1123 4.2.3.1); only the retransmission timer resends. Beyond the window
  // sent: stale or bogus.
  if (advance == 0 || advance > pump->sent_up_to - pump->acked) return;
  pump->acked += advance;
  if (pump->acked == pump->total_blocks) {
    deliver(socket_state, pump->on_done, 0, NULL);
    return;
  }
  // RFC 7440: an ACK inside the window means the peer has everything up to it; the next window
  // starts right after, including blocks of the old window it did not get.
  pump_send_window(socket_state);
}

/**
 * The local address a listener's datagram was sent to, as text, from the ancillary data: for IPv4
 * the address the kernel answers from (ipi_spec_dst: the destination, or the interface's address
 * for a broadcast), for IPv6 the destination unless it is multicast. "" when the kernel did not
 * say; the kernel then chooses the source.
 */
static void local_address_of(const transfer_socket* socket_state, struct msghdr* message, char* out, size_t size) {
  out[0] = '\0';
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(message); cmsg != NULL; cmsg = CMSG_NXTHDR(message, cmsg)) {
    if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(cmsg), sizeof info);
      address_text(socket_state->family, AF_INET, &info.ipi_spec_dst, out, size);
      return;  // an IPv4 datagram on a dual-stack listener carries both: this one is right for broadcasts too
    }
    if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(cmsg), sizeof info);
      if (!IN6_IS_ADDR_MULTICAST(&info.ipi6_addr)) inet_ntop(AF_INET6, &info.ipi6_addr, out, size);
    }
  }
}

/** Room for IP_PKTINFO and IPV6_PKTINFO together, aligned for cmsghdr. */
typedef union {
  char bytes[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
  struct cmsghdr align;
} pktinfo_control;

static void on_readable(uv_poll_t* handle, int status, int events) {
  transfer_socket* socket = (transfer_socket*)handle->data;
  napi_env env = socket->env;
  unsigned char bytes[MAX_DATAGRAM];
  pktinfo_control control;
  for (int i = 0; i < READS_PER_EVENT && !socket->closed; i++) {
    struct sockaddr_storage from;
    struct iovec iov = {bytes, sizeof bytes};
    struct msghdr message = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    if (socket->listener) {
      message.msg_control = control.bytes;
      message.msg_controllen = sizeof control.bytes;
    }
    ssize_t n = recvmsg(socket->fd, &message, 0);
    if (n < 0) break;  // EAGAIN: drained. Other errors (ICMP reports) are of no use to a sender that times out anyway.
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    // An ACK: opcode 4 and a block number (bytes after it, as some clients pad, are ignored).
    if (n >= 4 && bytes[0] == 0 && bytes[1] == 4 && is_peer(socket, &from)) {
      unsigned block = ((unsigned)bytes[2] << 8) | bytes[3];
      if (pumping(socket)) {
        pump_ack(socket, block);
      } else {
        napi_value value;
        napi_create_uint32(env, block, &value);
        deliver(socket, socket->on_ack, 1, &value);
      }
    } else {
      char address[INET6_ADDRSTRLEN] = "", local[INET6_ADDRSTRLEN] = "";
      const void* raw = from.ss_family == AF_INET ? (const void*)&((struct sockaddr_in*)&from)->sin_addr
                                                  : (const void*)&((struct sockaddr_in6*)&from)->sin6_addr;
      inet_ntop(from.ss_family, raw, address, sizeof address);
      if (socket->listener) local_address_of(socket, &message, local, sizeof local);
      napi_value argv[4];
      void* copy;
      napi_create_buffer_copy(env, (size_t)n, bytes, &copy, &argv[0]);
      napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &argv[1]);
      napi_create_uint32(env, port_of(&from), &argv[2]);
      napi_create_string_utf8(env, local, NAPI_AUTO_LENGTH, &argv[3]);
      deliver(socket, socket->on_datagram, socket->listener ? 4 : 3, argv);
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

/** Reads a call's arguments into argv: exactly `count` of them, else a TypeError naming `usage`; -1 with it pending. */
static int read_args(napi_env env, napi_callback_info info, size_t count, napi_value* argv, const char* usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc != count) {
    napi_throw_type_error(env, NULL, usage);
    return -1;
  }
  return 0;
}

/**
 * Reads a call's arguments into argv: exactly `count` of them, the first a transfer socket.
 * NULL, with a JavaScript exception pending, when they are not.
 */
static transfer_socket* socket_call(napi_env env, napi_callback_info info, size_t count, napi_value* argv) {
  return read_args(env, info, count, argv, "wrong number of arguments") == 0 ? unwrap(env, argv[0]) : NULL;
}

/** Whether every value is a function; else a TypeError naming `usage` is pending. */
static int functions(napi_env env, napi_value* values, size_t count, const char* usage) {
  for (size_t i = 0; i < count; i++) {
    napi_valuetype type;
    if (napi_typeof(env, values[i], &type) != napi_ok || type != napi_function) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
  }
  return 1;
}

/**
 * Watches a bound socket on the calling thread's loop and wraps it for JavaScript; frees it on
 * failure. on_ack is NULL for a listener. Returns [socket, localPort].
 */
static napi_value watch(napi_env env, transfer_socket* socket_state, int fd, napi_value on_ack, napi_value on_datagram) {
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  if (getsockname(fd, (struct sockaddr*)&local, &local_len) != 0) {
    int err = errno;
    close(fd);
    free(socket_state);
    return throw_errno(env, "getsockname", err);
  }
  socket_state->fd = fd;
  socket_state->family = local.ss_family;
  socket_state->env = env;
  napi_value resource_name, handle, port, result;
  CALL(napi_create_string_utf8(env, socket_state->listener ? "kickstand:tftp-listener" : "kickstand:tftp-transfer", NAPI_AUTO_LENGTH, &resource_name));
  CALL(napi_async_init(env, NULL, resource_name, &socket_state->async_context));
  if (on_ack != NULL) CALL(napi_create_reference(env, on_ack, 1, &socket_state->on_ack));
  CALL(napi_create_reference(env, on_datagram, 1, &socket_state->on_datagram));
  CALL(napi_get_uv_event_loop(env, &socket_state->loop));
  uv_poll_init(socket_state->loop, &socket_state->poll, fd);
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

// open(bindAddress, peerAddress, peerPort, onAck(block), onDatagram(bytes, address, port)) -> [socket, localPort]
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  const char* usage = "open(bindAddress, peerAddress, peerPort, onAck, onDatagram)";
  // Checked before anything is allocated: the error paths after bind() cannot undo it all.
  if (read_args(env, info, 5, argv, usage) != 0 || !functions(env, argv + 3, 2, usage)) return NULL;
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
  if (fd < 0 || bind(fd, (struct sockaddr*)&local, local_len) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    free(socket_state);
    return throw_errno(env, "cannot bind a TFTP transfer socket", err);
  }
  return watch(env, socket_state, fd, argv[3], argv[4]);
}

// listen(address, port, onDatagram(bytes, address, port, localAddress)) -> [socket, port]:
// a socket with no peer whose datagrams all go to onDatagram, with the local address each was sent to.
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  const char* usage = "listen(address, port, onDatagram)";
  if (read_args(env, info, 3, argv, usage) != 0 || !functions(env, argv + 2, 1, usage)) return NULL;
  char bind_text[INET6_ADDRSTRLEN + 1];
  size_t length;
  uint32_t port;
  CALL(napi_get_value_string_utf8(env, argv[0], bind_text, sizeof bind_text, &length));
  CALL(napi_get_value_uint32(env, argv[1], &port));
  struct sockaddr_storage local;
  socklen_t local_len;
  if (port > 65535 || parse_address(bind_text, port, &local, &local_len) != 0) {
    napi_throw_type_error(env, NULL, "listen() needs an IP literal and a port from 0 to 65535");
    return NULL;
  }
  transfer_socket* socket_state = calloc(1, sizeof *socket_state);
  if (socket_state == NULL) return throw_errno(env, "listener socket", ENOMEM);
  socket_state->listener = 1;
  int on = 1;
  int fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int failed = fd < 0 ||
               (local.ss_family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on)
                                           : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on)) != 0;
  // IPv4 datagrams on a dual-stack listener: their IP_PKTINFO also names the answering address of a broadcast.
  if (!failed && local.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  if (failed || bind(fd, (struct sockaddr*)&local, local_len) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    free(socket_state);
    return throw_errno(env, "bind", err);
  }
  return watch(env, socket_state, fd, NULL, argv[2]);
}

static napi_value send_result(napi_env env, ssize_t sent) {
  napi_value result;
  napi_create_int32(env, sent < 0 ? errno : 0, &result);
  return result;
}

// send(socket, bytes) -> 0 or an errno: one datagram to the peer (OACK, ERROR).
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  transfer_socket* socket_state = socket_call(env, info, 2, argv);
  if (socket_state == NULL) return NULL;
  struct iovec iov;
  if (buffer_of(env, argv[1], &iov) != 0) {
    napi_throw_type_error(env, NULL, "send() takes a Buffer");
    return NULL;
  }
  if (socket_state->closed) return send_result(env, (errno = EBADF, -1));
  return send_result(env, send_one(socket_state, &iov, 1));
}

// startPump(socket, size, blksize, windowsize, bytesFrom(offset, length), onDone(), onSendError(errno)):
// sends the first window; from here ACKs from the peer drive the DATA phase.
static napi_value js_start_pump(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  transfer_socket* socket_state = socket_call(env, info, 7, argv);
  if (socket_state == NULL) return NULL;
  data_pump* pump = &socket_state->pump;
  int64_t size;
  uint32_t blksize, windowsize;
  CALL(napi_get_value_int64(env, argv[1], &size));
  CALL(napi_get_value_uint32(env, argv[2], &blksize));
  CALL(napi_get_value_uint32(env, argv[3], &windowsize));
  if (size < 0 || blksize == 0 || windowsize == 0 || pump->started) {
    napi_throw_range_error(env, NULL, "startPump() needs size >= 0, blksize and windowsize >= 1, and runs once per socket");
    return NULL;
  }
  if (socket_state->closed) return NULL;
  pump->size = (uint64_t)size;
  pump->blksize = blksize;
  pump->windowsize = windowsize;
  pump->total_blocks = pump->size / blksize + 1;
  CALL(napi_create_reference(env, argv[4], 1, &pump->bytes_from));
  CALL(napi_create_reference(env, argv[5], 1, &pump->on_done));
  CALL(napi_create_reference(env, argv[6], 1, &pump->on_send_error));
  pump->started = 1;
  pump_send_window(socket_state);
  return NULL;
}

// resendWindow(socket): the retransmission timer fired without progress; the window goes again.
static napi_value js_resend_window(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  transfer_socket* socket_state = socket_call(env, info, 1, argv);
  if (socket_state != NULL && pumping(socket_state)) pump_send_window(socket_state);
  return NULL;
}

// pumpProgress(socket) -> [blocks acknowledged, ms since the current window last left]
static napi_value js_pump_progress(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  transfer_socket* socket_state = socket_call(env, info, 1, argv);
  if (socket_state == NULL) return NULL;
  const data_pump* pump = &socket_state->pump;
  napi_value result, acked, idle;
  CALL(napi_create_double(env, (double)pump->acked, &acked));
  CALL(napi_create_double(env, !pump->started || socket_state->closed ? 0 : (double)(uv_now(socket_state->loop) - pump->window_sent_at), &idle));
  CALL(napi_create_array_with_length(env, 2, &result));
  CALL(napi_set_element(env, result, 0, acked));
  CALL(napi_set_element(env, result, 1, idle));
  return result;
}

// sendTo(socket, bytes, address, port, fromAddress) -> 0 or an errno: a datagram to someone other
// than the peer (ERROR 5 to a stranger, a listener's refusal). fromAddress "" lets the kernel pick
// the source; a listener passes the address the request was sent to.
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  transfer_socket* socket_state = socket_call(env, info, 5, argv);
  if (socket_state == NULL) return NULL;
  struct iovec iov;
  char to_text[INET6_ADDRSTRLEN + 1], from_text[INET6_ADDRSTRLEN + 1];
  size_t length;
  uint32_t port;
  if (buffer_of(env, argv[1], &iov) != 0) {
    napi_throw_type_error(env, NULL, "sendTo() takes a Buffer");
    return NULL;
  }
  CALL(napi_get_value_string_utf8(env, argv[2], to_text, sizeof to_text, &length));
  CALL(napi_get_value_uint32(env, argv[3], &port));
  CALL(napi_get_value_string_utf8(env, argv[4], from_text, sizeof from_text, &length));
  struct sockaddr_storage to;
  struct msghdr message = {.msg_name = &to, .msg_iov = &iov, .msg_iovlen = 1};
  pktinfo_control control;
  memset(&control, 0, sizeof control);
  int bad_from = 0;
  if (from_text[0] != '\0') {
    message.msg_control = control.bytes;
    message.msg_controllen = socket_state->family == AF_INET ? CMSG_SPACE(sizeof(struct in_pktinfo)) : CMSG_SPACE(sizeof(struct in6_pktinfo));
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
    if (socket_state->family == AF_INET) {
      struct in_pktinfo pktinfo = {0};
      bad_from = inet_pton(AF_INET, from_text, &pktinfo.ipi_spec_dst) != 1;
      cmsg->cmsg_level = IPPROTO_IP;
      cmsg->cmsg_type = IP_PKTINFO;
      cmsg->cmsg_len = CMSG_LEN(sizeof pktinfo);
      memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof pktinfo);
    } else {
      struct in6_pktinfo pktinfo = {0};  // a v4-mapped source works for IPv4 peers of a dual-stack socket
      bad_from = inet_pton(AF_INET6, from_text, &pktinfo.ipi6_addr) != 1;
      cmsg->cmsg_level = IPPROTO_IPV6;
      cmsg->cmsg_type = IPV6_PKTINFO;
      cmsg->cmsg_len = CMSG_LEN(sizeof pktinfo);
      memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof pktinfo);
    }
  }
  if (bad_from || parse_address(to_text, port, &to, &message.msg_namelen) != 0) {
    napi_throw_type_error(env, NULL, "sendTo() needs IP literals, the source of the socket's own family");
    return NULL;
  }
  if (socket_state->closed) return send_result(env, (errno = EBADF, -1));
  return send_result(env, sendmsg(socket_state->fd, &message, 0));
}

static void on_closed(uv_handle_t* handle) {
  transfer_socket* socket_state = (transfer_socket*)handle->data;
  socket_state->fd_closed = 1;
  napi_remove_async_cleanup_hook(socket_state->cleanup_hook);
  if (socket_state->collected) free(socket_state);
}

/**
 * Stops watching, closes the descriptor (so the port is free when close() returns, as with
 * dgram: uv_close has already taken the descriptor out of epoll) and lets go of the callbacks.
 * Every send checks `closed` first, so the closed descriptor number is never used again.
 */
static void close_socket(napi_env env, transfer_socket* socket_state) {
  if (socket_state->closed) return;
  socket_state->closed = 1;
  data_pump* pump = &socket_state->pump;
  napi_ref* refs[] = {&socket_state->on_ack, &socket_state->on_datagram, &pump->chunk_ref, &pump->bytes_from, &pump->on_done, &pump->on_send_error};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(env, *refs[i]);
    *refs[i] = NULL;
  }
  pump->chunk = NULL;
  pump->chunk_len = 0;
  napi_async_destroy(env, socket_state->async_context);
  uv_poll_stop(&socket_state->poll);
  uv_close((uv_handle_t*)&socket_state->poll, on_closed);
  close(socket_state->fd);
  socket_state->fd = -1;
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
  napi_value argv[1];
  transfer_socket* socket_state = socket_call(env, info, 1, argv);
  if (socket_state != NULL) close_socket(env, socket_state);
  return NULL;
}

NAPI_MODULE_INIT() {
  const struct { const char* name; napi_callback callback; } functions[] = {
    {"open", js_open}, {"listen", js_listen}, {"send", js_send}, {"sendTo", js_send_to}, {"startPump", js_start_pump},
    {"resendWindow", js_resend_window}, {"pumpProgress", js_pump_progress}, {"close", js_close},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value function;
    napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].callback, NULL, &function);
    napi_set_named_property(env, exports, functions[i].name, function);
  }
  return exports;
}
