from testrium.modules.events import Events_Manager


def run():
    with open("out.txt", "w") as handle:
        handle.write("hello")
    Events_Manager(Unit="writer", path=".").Set_Event("written")
