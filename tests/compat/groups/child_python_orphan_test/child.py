# The original imported every Python file of the group inside its runner: scripts keep
# their work under `__main__`.
from testrium.modules.events import Events_Manager

if __name__ == "__main__":
    Events_Manager(Unit="parent", path=".").Set_Event("job-sent", event_type="Send", event_key="job-1")
