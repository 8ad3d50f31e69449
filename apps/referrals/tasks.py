from celery import shared_task


@shared_task(name="referrals.slot_offers_expire")
def slot_offers_expire_task() -> int:
    """Beat: earlier-slot offers past their hold expire and go to the next waiting referral."""
    from .services.waitlist import slot_offers_expire

    return slot_offers_expire()


@shared_task(name="referrals.booking_sweep")
def booking_sweep_task() -> int:
    """Beat: bookings the EHR refused whose answer was not applied (a crash after the send)."""
    from .services.booking import referral_booking_sweep

    return referral_booking_sweep()
