# ch07-client: the broker's network face, the C client SDK, mqadmin and mqbench (in progress).
$(eval $(call rk_chapter,07,ch07-client))
