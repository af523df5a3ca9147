#ifndef CATRIUM_SHIM_H
#define CATRIUM_SHIM_H
// Calls Swift cannot make directly: libopus's ctl interface is variadic
// (opus_encoder_ctl(enc, REQUEST, ...)) and its requests are macros.
#include <opus.h>

int atrium_opus_encoder_set_bitrate(OpusEncoder *enc, opus_int32 bitsPerSecond);
int atrium_opus_encoder_set_complexity(OpusEncoder *enc, opus_int32 complexity);
int atrium_opus_encoder_set_signal_voice(OpusEncoder *enc);
int atrium_opus_encoder_set_inband_fec(OpusEncoder *enc, opus_int32 enabled);
int atrium_opus_encoder_set_packet_loss_perc(OpusEncoder *enc, opus_int32 percent);
int atrium_opus_encoder_set_dtx(OpusEncoder *enc, opus_int32 enabled);
int atrium_opus_encoder_get_lookahead(OpusEncoder *enc, opus_int32 *samples);
int atrium_opus_decoder_get_last_packet_duration(OpusDecoder *dec, opus_int32 *samples);

#endif
