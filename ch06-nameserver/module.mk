# ch06-nameserver: the remoting layer (RocketMQ's frames on libuv) and the name server.
$(eval $(call rk_chapter,06,ch06-nameserver))
# The client SDK library takes the remoting client and the frame codec.
RK_SDK_SRCS += $(addprefix ch06-nameserver/src/,remoting_client.c remoting_cmd.c remoting_io.c)
