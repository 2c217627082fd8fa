//! The web services of MSNP13+ as the simulator serves them
//! (docs/msnp13-18.md §3): memberships (`FindMembership`, `AddMember`,
//! `DeleteMember`) and the address book (`ABFindAll`, `ABContactAdd`),
//! answering from the same account state the notification server uses.
//! The ticket in `TicketToken` names the account.

use crate::sso::{account_of, element, http, unescape};
use crate::state::{State, AL, BL, FL, PL, RL};
use crate::wire::quote;

fn fault(code: &str, text: &str) -> String {
    let body = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>{text}</faultstring><detail><errorcode xmlns=\"http://www.msn.com/webservices/AddressBook\">{code}</errorcode></detail></soap:Fault></soap:Body></soap:Envelope>"
    );
    http("500 Internal Server Error", &body)
}

fn ok(action: &str, inner: &str) -> String {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header><ServiceHeader xmlns=\"http://www.msn.com/webservices/AddressBook\"><Version>15.01.1408.0000</Version></ServiceHeader></soap:Header><soap:Body><{action}Response xmlns=\"http://www.msn.com/webservices/AddressBook\">{inner}</{action}Response></soap:Body></soap:Envelope>"
    );
    http("200 OK", &body)
}

fn xml(s: &str) -> String {
    crate::state::xml(s)
}

/// A call to the address-book or sharing service.
pub fn address_book(s: &mut State, body: &str) -> String {
    let ticket = element(body, "TicketToken")
        .first()
        .map(|t| unescape(t))
        .unwrap_or_default();
    let Some(me) = account_of(s, &ticket) else {
        return fault("AuthenticationFailed", "the ticket is not valid");
    };
    let action = [
        "FindMembership",
        "ABFindAll",
        "AddMember",
        "DeleteMember",
        "ABContactAdd",
    ]
    .into_iter()
    .find(|a| body.contains(&format!("<{a} ")) || body.contains(&format!("<{a}>")));
    match action {
        Some("FindMembership") => memberships(s, &me),
        Some("ABFindAll") => find_all(s, &me),
        Some(a @ ("AddMember" | "DeleteMember")) => member(s, &me, a, body),
        Some("ABContactAdd") => contact_add(s, &me, body),
        _ => fault("InvalidRequest", "unknown action"),
    }
}

fn memberships(s: &State, me: &str) -> String {
    let Some(acc) = s.account(me) else {
        return fault("InvalidPassportUser", "no such account");
    };
    let mut roles = String::new();
    for (role, bit) in [("Allow", AL), ("Block", BL), ("Reverse", RL), ("Pending", PL)] {
        let members: String = acc
            .lists
            .iter()
            .filter(|(_, bits)| {
                // Escargot: a request nobody answered is Pending (and Reverse).
                let pending = **bits & RL != 0 && **bits & (AL | BL) == 0;
                **bits & bit != 0 || (bit == PL && pending)
            })
            .filter_map(|(k, _)| s.account(k))
            .map(|o| {
                format!(
                    "<Member xsi:type=\"PassportMember\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><MembershipId>{role}/{}</MembershipId><Type>Passport</Type><State>Accepted</State><Deleted>false</Deleted><PassportName>{}</PassportName></Member>",
                    o.email, xml(&o.email)
                )
            })
            .collect();
        if !members.is_empty() {
            roles.push_str(&format!(
                "<Membership><MemberRole>{role}</MemberRole><Members>{members}</Members><MembershipIsComplete>true</MembershipIsComplete></Membership>"
            ));
        }
    }
    let inner = format!(
        "<FindMembershipResult><Services><Service><Memberships>{roles}</Memberships><Info><Handle><Id>1</Id><Type>Messenger</Type><ForeignId/></Handle></Info></Service></Services></FindMembershipResult>"
    );
    ok("FindMembership", &inner)
}

fn find_all(s: &State, me: &str) -> String {
    let Some(acc) = s.account(me) else {
        return fault("InvalidPassportUser", "no such account");
    };
    let mut contacts = format!(
        "<Contact><contactId>00000000-0000-0000-0000-000000000001</contactId><contactInfo><contactType>Me</contactType><passportName>{}</passportName><displayName>{}</displayName></contactInfo><fDeleted>false</fDeleted></Contact>",
        xml(&acc.email),
        xml(&acc.friendly_name)
    );
    for (k, bits) in &acc.lists {
        let Some(o) = s.account(k).filter(|_| bits & FL != 0) else {
            continue;
        };
        let id = acc
            .guids
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("{:08x}-0000-4000-8000-000000000000", k.len()));
        contacts.push_str(&format!(
            "<Contact><contactId>{id}</contactId><contactInfo><contactType>Regular</contactType><passportName>{}</passportName><isMessengerUser>true</isMessengerUser><displayName>{}</displayName></contactInfo><fDeleted>false</fDeleted></Contact>",
            xml(&o.email),
            xml(&o.friendly_name)
        ));
    }
    let inner = format!(
        "<ABFindAllResult><groups/><contacts>{contacts}</contacts><ab><abId>00000000-0000-0000-0000-000000000000</abId><abInfo><ownerEmail>{}</ownerEmail></abInfo></ab></ABFindAllResult>",
        xml(me)
    );
    ok("ABFindAll", &inner)
}

fn member(s: &mut State, me: &str, action: &str, body: &str) -> String {
    let role = element(body, "MemberRole").first().copied().unwrap_or_default();
    let Some(other) = element(body, "PassportName").first().map(|p| unescape(p)) else {
        return fault("InvalidRequest", "no member");
    };
    let bit = match role {
        "Allow" => AL,
        "Block" => BL,
        "Pending" => 0,
        _ => return fault("InvalidRequest", "unknown role"),
    };
    let Some(acc) = s.account_mut(me) else {
        return fault("InvalidPassportUser", "no such account");
    };
    let bits = acc.bits(&other);
    match action {
        "AddMember" if bits & bit != 0 => return fault("MemberAlreadyExists", "already a member"),
        "AddMember" => acc.lists.insert(other.to_ascii_lowercase(), bits | bit),
        _ if bit != 0 && bits & bit == 0 => return fault("MemberDoesNotExist", "not a member"),
        _ => acc.lists.insert(other.to_ascii_lowercase(), bits & !bit),
    };
    ok(action, "")
}

fn contact_add(s: &mut State, me: &str, body: &str) -> String {
    let Some(other) = element(body, "passportName").first().map(|p| unescape(p)) else {
        return fault("InvalidRequest", "no contact");
    };
    let Some(other_email) = s.account(&other).map(|o| o.email.clone()) else {
        return fault("InvalidPassportUser", "no such account");
    };
    let Some(acc) = s.account_mut(me) else {
        return fault("InvalidPassportUser", "no such account");
    };
    let key = other.to_ascii_lowercase();
    let bits = acc.bits(&key);
    if bits & FL != 0 {
        return fault("ContactAlreadyExists", "already a contact");
    }
    acc.lists.insert(key.clone(), bits | FL);
    let guid = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        key.len(),
        key.bytes().map(u64::from).sum::<u64>()
    );
    acc.guids.insert(key, guid.clone());
    let (my_email, my_name) = (acc.email.clone(), acc.friendly_name.clone());
    s.added_by(&other_email, &my_email, &my_name);
    ok(
        "ABContactAdd",
        &format!("<ABContactAddResult><guid>{guid}</guid></ABContactAddResult>"),
    )
}

/// `ADL 0` telling a client of MSNP13+ that `who` added it.
pub fn added_you(who: &str, name: &str) -> Vec<u8> {
    let (user, domain) = who.split_once('@').unwrap_or((who, ""));
    let ml = format!(
        "<ml><d n=\"{}\"><c n=\"{}\" t=\"1\" l=\"8\" f=\"{}\"/></d></ml>",
        xml(domain),
        xml(user),
        quote(name)
    );
    crate::wire::payload_line("ADL 0", ml.as_bytes())
}
