# ch07-client: the broker's network face, the C client SDK, mqadmin and mqbench (the broker in src/broker, the SDK in src/client).
$(eval $(call rk_chapter,07,ch07-client))
# The client SDK library: the SDK half of the chapter and what both halves
# share; RK_SDK_HEADERS are the headers an application includes (their
# includes are installed with them).
RK_SDK_SRCS += $(wildcard ch07-client/src/client/*.c ch07-client/src/common/*.c)
RK_SDK_HEADERS += ch07-client/include/rk/rocklet.h ch07-client/include/rk/client_message.h
