"""Class Room: a teacher opens a room and sees every student's run at once; students
join it and send their runs (see `lstm_explorer.ui.room_view`)."""

from lstm_explorer.ui import frame, room_view

frame.require_frame()
room_view.page()
