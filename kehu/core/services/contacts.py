"""Contacts of a customer (handler, coach, executive, supporter, influencer ...)."""

from kehu.core import access, normalize
from kehu.core.context import service
from kehu.core.models import Contact
from kehu.core.schemas import ContactInput, listing_bounds, load
from kehu.core.services.lookup import customer_by_id
from kehu.core.views import ContactView, dump, dump_many


@service
def add_contact(context, customer, name, title=None, role=None, phone=None, email=None):
    """Add a contact to a customer the acting user may edit."""
    data = load(ContactInput(), {"customer": customer, "name": name, "title": title, "role": role,
                                 "phone": phone, "email": email})
    owner = customer_by_id(context, data["customer"])
    access.require_record(context, "edit", owner.owner_id, f"customer {owner.id}")
    context.raise_if_vetoed("kehu_before_create", [data], entity="contact", records=[data], origin="manual")
    contact = Contact.create(workspace=context.workspace, created_at=context.now,
                             phone_key=normalize.phone_key(data["phone"]), **data)
    result = dump(ContactView, contact)
    context.audit("contact.added", "contact", contact.id, after=result)
    context.after_commit(lambda: context.hooks.kehu_records_created(context=context, entity="contact",
                                                                    records=[result]))
    return result


def list_contacts(context, customer, limit=100, offset=0):
    limit, offset = listing_bounds(limit, offset)
    owner = customer_by_id(context, customer)
    access.require_record(context, "view", owner.owner_id, f"customer {owner.id}")
    query = Contact.select().where(Contact.workspace == context.workspace, Contact.customer == owner) \
        .order_by(Contact.id)
    query = query.limit(limit or None).offset(offset)  # limit 0 = no limit
    return dump_many(ContactView, query)


SERVICES = {"add": add_contact, "list": list_contacts}
